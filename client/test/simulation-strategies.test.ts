/**
 * Envoy-style load-balancer simulation (seeded RNG, fake clock): 100k picks, every share checked
 * against the expected share.
 */
import { describe, expect, it } from 'vitest';
import { inFlightLoad } from '../src/load-in-flight.ts';
import { PickPlan, type PlanEndpoint } from '../src/pick-plan.ts';
import { fakeClock, seededRandom } from '../src/random.ts';
import { STRATEGY_NAMES, type StrategyName } from '../src/strategy.ts';
import { strategyFactory } from '../src/strategy-catalog.ts';
import { P2cStrategy } from '../src/strategy-p2c.ts';
import { countPicks, equalEndpoints, fakeEndpoints, shares } from './fake-endpoints.ts';

const PICKS = 100_000;

function plan(
  endpoints: PlanEndpoint[],
  strategy: StrategyName,
  seed = 1,
  sampling: 'distinct' | 'independent' = 'distinct',
) {
  const clock = fakeClock();
  return new PickPlan(endpoints, {
    strategy: strategyFactory(strategy, { p2cSampling: sampling }),
    panicThresholdPercent: 50,
    zoneAffinity: null,
    random: seededRandom(seed),
    now: clock.now,
  });
}

describe('strategies over equal endpoints', () => {
  for (const name of STRATEGY_NAMES) {
    it(`${name}: 100k picks over 7 equal endpoints land within 1% of even`, () => {
      const endpoints = equalEndpoints(7);
      const p = plan(endpoints, name, 42);
      // Calls complete at once, so load-aware strategies see equal loads and must still spread.
      const counts = countPicks(7, PICKS, () => p.pick());
      for (const share of shares(counts)) expect(Math.abs(share - 1 / 7)).toBeLessThan(0.01);
    });
  }

  it('round robin, weighted round robin and idle P2C are exact to within a few picks per endpoint', () => {
    // P2C breaks load ties toward the endpoint it chose less often (two-choice balls-into-bins).
    for (const name of ['round-robin', 'weighted-round-robin', 'p2c'] as const) {
      const counts = countPicks(
        7,
        7000,
        (
          (p) => () =>
            p.pick()
        )(plan(equalEndpoints(7), name, 3)),
      );
      for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThanOrEqual(name === 'p2c' ? 3 : 1);
    }
  });

  it('P2C least-in-flight under sustained concurrency keeps in-flight counts far more level than random', () => {
    // 64 calls in flight at all times; each pick replaces a randomly chosen finished call.
    const spread = (name: StrategyName) => {
      const endpoints = equalEndpoints(9);
      const p = plan(endpoints, name, 7);
      const random = seededRandom(99);
      const inFlight: number[] = [];
      let total = 0;
      let samples = 0;
      for (let i = 0; i < PICKS; i++) {
        if (inFlight.length >= 64) {
          const done = inFlight.splice(Math.floor(random() * inFlight.length), 1)[0] as number;
          (endpoints[done] as PlanEndpoint).stats.inFlight -= 1;
        }
        const chosen = p.pick();
        (endpoints[chosen] as PlanEndpoint).stats.inFlight += 1;
        inFlight.push(chosen);
        if (i > 1000) {
          const loads = endpoints.map((e) => e.stats.inFlight);
          total += Math.max(...loads) - Math.min(...loads);
          samples++;
        }
      }
      return total / samples;
    };
    const p2c = spread('p2c');
    const random = spread('random');
    console.log(
      `mean max-min in-flight over 9 endpoints, 64 in flight: p2c ${p2c.toFixed(2)}, random ${random.toFixed(2)}`,
    );
    expect(p2c).toBeLessThan(4);
    expect(random).toBeGreaterThan(2 * p2c);
  });
});

describe('weighted strategies follow weights', () => {
  for (const name of ['random', 'weighted-round-robin'] as const) {
    it(`${name}: weights 1:2:3:4 give shares 10/20/30/40 %`, () => {
      const endpoints = fakeEndpoints([1, 2, 3, 4].map((weight) => ({ weight })));
      const s = shares(
        countPicks(
          4,
          PICKS,
          (
            (p) => () =>
              p.pick()
          )(plan(endpoints, name, 5)),
        ),
      );
      s.forEach((share, i) => {
        expect(Math.abs(share - (i + 1) / 10)).toBeLessThan(0.01);
      });
    });
  }
});

describe('P2C with one busy endpoint (Envoy shapes)', () => {
  /** Shares of PICKS picks over `n` equal endpoints of which the last has one call in flight. */
  function sharesWithLastBusy(n: number, seed: number, sampling?: 'independent'): number[] {
    const endpoints = equalEndpoints(n);
    (endpoints[n - 1] as PlanEndpoint).stats.inFlight = 1;
    const p = plan(endpoints, 'p2c', seed, sampling);
    return shares(countPicks(n, PICKS, () => p.pick()));
  }

  it('independent sampling: 1 busy of 3 gets 1/9, the others 4/9 each (44.45/44.45/11.1)', () => {
    const s = sharesWithLastBusy(3, 11, 'independent');
    expect(Math.abs((s[0] as number) - 4 / 9)).toBeLessThan(0.01);
    expect(Math.abs((s[1] as number) - 4 / 9)).toBeLessThan(0.01);
    expect(Math.abs((s[2] as number) - 1 / 9)).toBeLessThan(0.01);
  });

  it('independent sampling: 1 busy of 2 gets 25%, the other 75%', () => {
    const s = sharesWithLastBusy(2, 12, 'independent');
    expect(Math.abs((s[0] as number) - 0.75)).toBeLessThan(0.01);
    expect(Math.abs((s[1] as number) - 0.25)).toBeLessThan(0.01);
  });

  it('distinct sampling (default): the busy endpoint is never chosen while it is strictly busier', () => {
    const s = sharesWithLastBusy(3, 13);
    expect(s[2]).toBe(0);
    expect(Math.abs((s[0] as number) - 0.5)).toBeLessThan(0.01);
  });
});

describe('P2C property: the two candidates are always distinct', () => {
  it('holds for 200 random endpoint sets with random, skewed weights', () => {
    const random = seededRandom(2024);
    for (let trial = 0; trial < 200; trial++) {
      const n = 2 + Math.floor(random() * 40);
      // Some trials have one dominant weight, the case where rejection sampling could repeat.
      const weights = Array.from({ length: n }, (_, i) => (trial % 3 === 0 && i === 0 ? 1000 : 0.1 + random() * 5));
      const endpoints = fakeEndpoints(weights.map((weight) => ({ weight })));
      const clock = fakeClock();
      const strategy = new P2cStrategy(
        { stats: endpoints.map((e) => e.stats), weights, random: seededRandom(trial), now: clock.now },
        inFlightLoad,
        'distinct',
      );
      let equalPairs = 0;
      for (let i = 0; i < 2000; i++) {
        strategy.pick();
        if (strategy.lastA === strategy.lastB || strategy.lastA < 0) equalPairs++;
      }
      expect(equalPairs).toBe(0);
    }
  });
});
