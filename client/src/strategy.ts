/**
 * A strategy chooses one endpoint among candidates. It is built once per picker over a fixed
 * candidate list (immutable from its point of view) and must pick synchronously and cheaply:
 * no allocation, no I/O. Loads it compares are measured elsewhere (load-*.ts).
 */
import type { EndpointStats } from './endpoint-stats.ts';
import type { Clock, Random } from './random.ts';

export interface StrategyInput {
  /** Candidates' live counters; length ≥ 1. */
  readonly stats: readonly EndpointStats[];
  /** Effective weights (endpoint weight × slow-start factor), same length as `stats`, all > 0. */
  readonly weights: readonly number[];
  readonly random: Random;
  readonly now: Clock;
}

export interface Strategy {
  /** Index into the input's candidates. */
  pick(): number;
}

export const STRATEGY_NAMES = [
  'p2c',
  'p2c-peak-ewma',
  'p2c-server-load',
  'round-robin',
  'random',
  'weighted-round-robin',
] as const;

export type StrategyName = (typeof STRATEGY_NAMES)[number];

/**
 * How P2C draws its two candidates. `distinct` (default, as tower) never compares an endpoint
 * with itself. `independent` draws with replacement, as Envoy's least-request does; the busiest
 * endpoint then still gets 1/n² of the picks, which is what Envoy's published shapes
 * (25/75 of 2, 44.45/44.45/11.1 of 3) measure.
 */
export type P2cSampling = 'distinct' | 'independent';

export interface StrategyOptions {
  readonly p2cSampling: P2cSampling;
}

export type StrategyFactory = (input: StrategyInput) => Strategy;
