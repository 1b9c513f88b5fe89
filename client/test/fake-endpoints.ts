/** Builders for simulation tests: plan endpoints over fresh stats, and share counting. */
import type { EndpointHealth } from '../src/endpoint-health.ts';
import { EndpointStats } from '../src/endpoint-stats.ts';
import type { PlanEndpoint } from '../src/pick-plan.ts';

export interface FakeEndpointSpec {
  zone?: string;
  health?: EndpointHealth;
  weight?: number;
  ready?: boolean;
}

export function fakeEndpoints(specs: readonly FakeEndpointSpec[]): PlanEndpoint[] {
  return specs.map((s, i) => ({
    stats: new EndpointStats(`10.0.0.${i + 1}:80`, 0),
    zone: s.zone ?? 'a',
    health: s.health ?? 'HEALTHY',
    weight: s.weight ?? 1,
    ready: s.ready ?? true,
  }));
}

export function equalEndpoints(n: number, zone = 'a'): PlanEndpoint[] {
  return fakeEndpoints(Array.from({ length: n }, () => ({ zone })));
}

/** Endpoints per zone, e.g. { a: 2, b: 5, c: 5 }. */
export function zonedEndpoints(perZone: Record<string, number>): PlanEndpoint[] {
  return fakeEndpoints(Object.entries(perZone).flatMap(([zone, n]) => Array.from({ length: n }, () => ({ zone }))));
}

export function shares(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => c / total);
}

export function countPicks(n: number, picks: number, pick: () => number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < picks; i++) {
    const chosen = pick();
    counts[chosen] = (counts[chosen] as number) + 1;
  }
  return counts;
}
