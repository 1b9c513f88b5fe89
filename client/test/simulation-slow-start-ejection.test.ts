/** Slow start ramps and outlier ejection limits, on a fake clock. */
import { describe, expect, it } from 'vitest';
import { EndpointStats } from '../src/endpoint-stats.ts';
import { type OutlierDetectionConfig, OutlierDetector } from '../src/outlier-detector.ts';
import { PickPlan } from '../src/pick-plan.ts';
import { fakeClock, seededRandom } from '../src/random.ts';
import { slowStartFactor } from '../src/slow-start.ts';
import { strategyFactory } from '../src/strategy-catalog.ts';
import { countPicks, fakeEndpoints } from './fake-endpoints.ts';

describe('slow start', () => {
  const linear = { windowMs: 60_000, aggression: 1, minWeightPercent: 10 };

  it('ramps linearly from the 10% floor to full weight over the window', () => {
    expect(slowStartFactor(0, linear)).toBe(0.1);
    expect(slowStartFactor(3_000, linear)).toBe(0.1);
    expect(slowStartFactor(30_000, linear)).toBeCloseTo(0.5, 9);
    expect(slowStartFactor(45_000, linear)).toBeCloseTo(0.75, 9);
    expect(slowStartFactor(60_000, linear)).toBe(1);
  });

  it('follows (age/window)^(1/aggression) with aggression 2', () => {
    expect(slowStartFactor(15_000, { ...linear, aggression: 2 })).toBeCloseTo(0.5, 9);
    expect(slowStartFactor(30_000, { ...linear, aggression: 2 })).toBeCloseTo(Math.SQRT1_2, 9);
  });

  it('a new endpoint halfway through its window gets half the share of an old one', () => {
    const factor = slowStartFactor(30_000, linear);
    const endpoints = fakeEndpoints([{}, {}, {}, {}, { weight: factor }]);
    const plan = new PickPlan(endpoints, {
      strategy: strategyFactory('weighted-round-robin', { p2cSampling: 'distinct' }),
      panicThresholdPercent: 50,
      zoneAffinity: null,
      random: seededRandom(1),
      now: fakeClock().now,
    });
    const counts = countPicks(5, 90_000, () => plan.pick());
    expect(Math.abs((counts[4] as number) / 90_000 - 0.5 / 4.5)).toBeLessThan(0.005);
  });
});

const OUTLIER: OutlierDetectionConfig = {
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 10,
  consecutiveFailures: 5,
  failurePercentage: { thresholdPercent: 85, minimumHosts: 5, requestVolume: 100 },
};

function fleet(n: number): EndpointStats[] {
  return Array.from({ length: n }, (_, i) => new EndpointStats(`10.0.1.${i}:80`, 0));
}

describe('outlier ejection', () => {
  it('ejects after 5 consecutive failures, not after 4 failures and a success', () => {
    const stats = fleet(10);
    const detector = new OutlierDetector(OUTLIER);
    detector.setEndpoints(stats);
    const [a, b] = stats as [EndpointStats, EndpointStats];
    for (let i = 0; i < 4; i++) a.callEnded(true, 1, 0);
    a.callEnded(false, 1, 0);
    expect(detector.onCallEnded(a, 0)).toBe(false);
    for (let i = 0; i < 5; i++) {
      b.callEnded(true, 1, 0);
      detector.onCallEnded(b, 0);
    }
    expect(b.ejected).toBe(true);
    expect(a.ejected).toBe(false);
  });

  it('never ejects more than max ejection percent, even when every endpoint fails', () => {
    const stats = fleet(50);
    const detector = new OutlierDetector(OUTLIER);
    detector.setEndpoints(stats);
    const random = seededRandom(5);
    let maxEjected = 0;
    for (let i = 0; i < 20_000; i++) {
      const e = stats[Math.floor(random() * 50)] as EndpointStats;
      e.callEnded(true, 1, i);
      detector.onCallEnded(e, i);
      if (i % 1000 === 999) detector.sweep(i);
      maxEjected = Math.max(maxEjected, detector.ejectedCount());
    }
    expect(maxEjected).toBe(5); // 10% of 50: the limit is reached, never exceeded.
  });

  it('ejects by failure percentage at the interval, and un-ejects after base × multiplier', () => {
    const stats = fleet(6);
    const detector = new OutlierDetector({ ...OUTLIER, consecutiveFailures: 0 });
    detector.setEndpoints(stats);
    const clock = fakeClock();
    const bad = stats[0] as EndpointStats;
    // 90% failures; consecutive-failure ejection is off so only the interval rule can fire.
    for (const e of stats) for (let i = 0; i < 100; i++) e.callEnded(e === bad && i % 10 !== 0, 1, 0);
    for (const e of stats) detector.onCallEnded(e, 0);
    expect(bad.ejected).toBe(false);
    expect(detector.sweep(clock.now())).toBe(true);
    expect(bad.ejected).toBe(true);
    clock.advance(29_999);
    detector.sweep(clock.now());
    expect(bad.ejected).toBe(true);
    clock.advance(1);
    detector.sweep(clock.now());
    expect(bad.ejected).toBe(false);
    // A second ejection in the next interval lasts twice as long (ejection backoff).
    for (const e of stats) for (let i = 0; i < 100; i++) e.callEnded(e === bad && i % 10 !== 0, 1, 0);
    detector.sweep(clock.now());
    expect(bad.ejected).toBe(true);
    expect(bad.ejectedUntilMs - clock.now()).toBe(60_000);
  });
});
