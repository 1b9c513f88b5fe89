/** Latency-aware strategies on a fake clock: a slow endpoint gets less traffic, and the estimate decays. */
import { describe, expect, it } from 'vitest';
import { PeakEwma } from '../src/peak-ewma.ts';
import { PickPlan, type PlanEndpoint } from '../src/pick-plan.ts';
import { fakeClock, seededRandom } from '../src/random.ts';
import type { StrategyName } from '../src/strategy.ts';
import { strategyFactory } from '../src/strategy-catalog.ts';
import { equalEndpoints } from './fake-endpoints.ts';

/** 20 calls per simulated ms for 5 s; endpoint 2 answers in 50 ms, the others in 5 ms. */
function slowShare(strategy: StrategyName): number {
  const clock = fakeClock();
  const endpoints = equalEndpoints(3);
  const latencyMs = [5, 5, 50];
  const plan = new PickPlan(endpoints, {
    strategy: strategyFactory(strategy, { p2cSampling: 'distinct' }),
    panicThresholdPercent: 50,
    zoneAffinity: null,
    random: seededRandom(3),
    now: clock.now,
  });
  const completions = new Map<number, number[]>();
  const counts = [0, 0, 0];
  for (let ms = 0; ms < 5_000; ms++) {
    for (const i of completions.get(ms) ?? []) {
      (endpoints[i] as PlanEndpoint).stats.callEnded(false, latencyMs[i] as number, ms);
    }
    completions.delete(ms);
    for (let k = 0; k < 20; k++) {
      const i = plan.pick();
      (endpoints[i] as PlanEndpoint).stats.callStarted();
      counts[i] = (counts[i] as number) + 1;
      const at = ms + (latencyMs[i] as number);
      completions.set(at, [...(completions.get(at) ?? []), i]);
    }
    clock.advance(1);
  }
  return (counts[2] as number) / counts.reduce((a, b) => a + b, 0);
}

describe('latency-aware balancing', () => {
  it('peak-EWMA P2C sends a 10× slower endpoint far less than a third, and less than least-in-flight does', () => {
    const ewma = slowShare('p2c-peak-ewma');
    const inFlight = slowShare('p2c');
    const random = slowShare('random');
    console.log(
      `slow endpoint share: p2c-peak-ewma ${(100 * ewma).toFixed(2)}%, p2c ${(100 * inFlight).toFixed(2)}%, random ${(100 * random).toFixed(2)}%`,
    );
    expect(Math.abs(random - 1 / 3)).toBeLessThan(0.01);
    expect(inFlight).toBeLessThan(0.2);
    expect(ewma).toBeLessThan(0.05);
    expect(ewma).toBeLessThan(inFlight);
  });

  it('takes a slower sample at once (peak), pulls down gradually, and decays while idle', () => {
    const ewma = new PeakEwma(0, { defaultRttMs: 30, decayMs: 10_000 });
    ewma.observe(100, 0);
    expect(ewma.estimateMs(0)).toBe(100);
    ewma.observe(10, 1_000);
    const afterFast = ewma.estimateMs(1_000);
    expect(afterFast).toBeLessThan(100);
    expect(afterFast).toBeGreaterThan(80); // one fast sample after 1 s moves it ~10%
    expect(ewma.estimateMs(1_000 + 10_000)).toBeCloseTo(afterFast / Math.E, 6);
  });
});
