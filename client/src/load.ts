/**
 * A Load is measured apart from choosing (tower's `load` vs `balance/p2c`): strategies only
 * compare the numbers a Load returns; the numbers are kept up to date by call hooks.
 */
import type { EndpointStats } from './endpoint-stats.ts';

export interface Load {
  readonly name: string;
  /** Whether `of` reads `nowMs`; when false, pickers skip reading the clock. */
  readonly needsClock: boolean;
  /** Lower is better. Must be cheap and must not mutate: it runs on every pick. */
  of(stats: EndpointStats, nowMs: number): number;
}
