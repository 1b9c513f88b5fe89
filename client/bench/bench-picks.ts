/** Per-pick cost of every strategy through the PickPlan (what the grpc-js picker runs per call). */
import { EndpointStats } from '../src/endpoint-stats.ts';
import { PickPlan, type PlanEndpoint } from '../src/pick-plan.ts';
import { seededRandom, systemClock } from '../src/random.ts';
import type { StrategyName } from '../src/strategy.ts';
import { strategyFactory } from '../src/strategy-catalog.ts';

const PICKS_PER_RUN = 200_000;
const RUNS = 15;

function endpoints(n: number): PlanEndpoint[] {
  const random = seededRandom(7);
  return Array.from({ length: n }, (_, i) => {
    const stats = new EndpointStats(`10.0.0.${i}:80`, 0);
    stats.inFlight = Math.floor(random() * 4);
    return { stats, zone: ['a', 'b', 'c'][i % 3] as string, health: 'HEALTHY', weight: 1 + (i % 2), ready: true };
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Median ns per pick over RUNS runs (after a warm-up run). */
export function pickNs(strategy: StrategyName, zoneAffinity: boolean, size = 9): number {
  const plan = new PickPlan(endpoints(size), {
    strategy: strategyFactory(strategy, { p2cSampling: 'distinct' }),
    panicThresholdPercent: 50,
    zoneAffinity: zoneAffinity
      ? {
          localZone: 'a',
          clientShares: new Map([
            ['a', 2],
            ['b', 1],
            ['c', 1],
          ]),
          minClusterSize: 6,
        }
      : null,
    random: Math.random,
    now: systemClock,
  });
  let sink = 0;
  const runs: number[] = [];
  for (let run = 0; run <= RUNS; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < PICKS_PER_RUN; i++) sink += plan.pick();
    const ns = Number(process.hrtime.bigint() - start) / PICKS_PER_RUN;
    if (run > 0) runs.push(ns);
  }
  if (sink < 0) console.log(sink);
  return median(runs);
}
