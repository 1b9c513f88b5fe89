/**
 * Injected randomness and time. Every randomized or timed part of the balancer takes these, so
 * simulations are reproducible from a seed and never depend on the wall clock.
 */

/** Uniform in [0, 1), like `Math.random`. */
export type Random = () => number;

/** Milliseconds on a monotonic clock (only differences are meaningful). */
export type Clock = () => number;

export const systemRandom: Random = Math.random;
export const systemClock: Clock = () => performance.now();

/** mulberry32: tiny, fast, good enough for load balancing and for reproducible tests. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A manually advanced clock for tests and simulations. */
export interface FakeClock {
  readonly now: Clock;
  advance(ms: number): void;
}

export function fakeClock(startMs = 0): FakeClock {
  let current = startMs;
  return {
    now: () => current,
    advance: (ms: number) => {
      current += ms;
    },
  };
}
