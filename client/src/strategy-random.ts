/** Weighted random: each pick independent, proportional to effective weight. */
import type { Random } from './random.ts';
import type { Strategy, StrategyInput } from './strategy.ts';
import { WeightedSampler } from './weighted-sampler.ts';

export class RandomStrategy implements Strategy {
  private readonly sampler: WeightedSampler;
  private readonly random: Random;

  constructor(input: StrategyInput) {
    this.sampler = new WeightedSampler(input.weights);
    this.random = input.random;
  }

  pick(): number {
    return this.sampler.sample(this.random);
  }
}
