/**
 * Power of two choices: draw two candidates (in proportion to effective weight, so slow start and
 * endpoint weights shape who is considered), keep the one with the lower Load. On equal loads
 * (common with fast calls, where in-flight is mostly 0 or 1) the one this picker has chosen less
 * often wins: two-choice balls-into-bins instead of a coin flip, so counts stay within a few picks
 * of each other. The tally lives in the picker, so an endpoint that joins later starts level
 * with the others at the next picker instead of being owed a backlog.
 */
import type { EndpointStats } from './endpoint-stats.ts';
import type { Load } from './load.ts';
import type { Clock, Random } from './random.ts';
import type { P2cSampling, Strategy, StrategyInput } from './strategy.ts';
import { WeightedSampler } from './weighted-sampler.ts';

export class P2cStrategy implements Strategy {
  private readonly stats: readonly EndpointStats[];
  private readonly sampler: WeightedSampler;
  private readonly random: Random;
  private readonly now: Clock;
  private readonly load: Load;
  private readonly distinct: boolean;
  private readonly chosen: Float64Array;
  /** The last two candidates drawn, exposed for property tests (distinctness). */
  lastA = -1;
  lastB = -1;

  constructor(input: StrategyInput, load: Load, sampling: P2cSampling) {
    this.stats = input.stats;
    this.sampler = new WeightedSampler(input.weights);
    this.random = input.random;
    this.now = input.now;
    this.load = load;
    this.distinct = sampling === 'distinct';
    this.chosen = new Float64Array(input.stats.length);
  }

  pick(): number {
    if (this.sampler.size === 1) return 0;
    const a = this.sampler.sample(this.random);
    const b = this.distinct ? this.sampler.sampleOther(a, this.random) : this.sampler.sample(this.random);
    this.lastA = a;
    this.lastB = b;
    const nowMs = this.load.needsClock ? this.now() : 0;
    const loadA = this.load.of(this.stats[a] as EndpointStats, nowMs);
    const loadB = this.load.of(this.stats[b] as EndpointStats, nowMs);
    const chosen = this.chosen;
    const winner = loadB < loadA || (loadB === loadA && (chosen[b] as number) < (chosen[a] as number)) ? b : a;
    chosen[winner] = (chosen[winner] as number) + 1;
    return winner;
  }
}
