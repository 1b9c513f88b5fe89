/** Zone-aware routing against Envoy's formula, panic mode and draining, with seeded picks. */
import { describe, expect, it } from 'vitest';
import { PickPlan, type PlanEndpoint } from '../src/pick-plan.ts';
import { fakeClock, seededRandom } from '../src/random.ts';
import { strategyFactory } from '../src/strategy-catalog.ts';
import { chooseClientShares, computeZoneRouting, expectedZoneShares } from '../src/zone-routing.ts';
import { countPicks, fakeEndpoints, zonedEndpoints } from './fake-endpoints.ts';

const PICKS = 100_000;

function zonePlan(
  endpoints: PlanEndpoint[],
  clientShares: Record<string, number>,
  options: { forceLocalMinSize?: number } = {},
) {
  return new PickPlan(endpoints, {
    strategy: strategyFactory('p2c', { p2cSampling: 'distinct' }),
    panicThresholdPercent: 50,
    zoneAffinity: {
      localZone: 'a',
      clientShares: new Map(Object.entries(clientShares)),
      minClusterSize: 6,
      ...options,
    },
    random: seededRandom(17),
    now: fakeClock().now,
  });
}

function zoneShares(endpoints: PlanEndpoint[], plan: PickPlan): Map<string, number> {
  const counts = countPicks(endpoints.length, PICKS, () => plan.pick());
  const out = new Map<string, number>();
  endpoints.forEach((e, i) => {
    out.set(e.zone, (out.get(e.zone) ?? 0) + (counts[i] as number) / PICKS);
  });
  return out;
}

describe("Envoy's zone-aware routing formula", () => {
  it('local {1,1,1} vs upstream {2,5,5}: keeps 49.98% local, spills 25.01% to each other zone', () => {
    const routing = computeZoneRouting({
      localZone: 'a',
      clientShares: new Map([
        ['a', 1],
        ['b', 1],
        ['c', 1],
      ]),
      upstreamHealthy: new Map([
        ['a', 2],
        ['b', 5],
        ['c', 5],
      ]),
      minClusterSize: 6,
    });
    // Envoy's integer arithmetic: upstream 1666/4166/4166, local 3333 each.
    expect(routing).toEqual({
      mode: 'local-residual',
      localPercentToRoute: 4998,
      residualZones: ['b', 'c'],
      residualCumulative: [833, 1666],
    });
    const endpoints = zonedEndpoints({ a: 2, b: 5, c: 5 });
    const measured = zoneShares(endpoints, zonePlan(endpoints, { a: 1, b: 1, c: 1 }));
    const expected = expectedZoneShares(routing, 'a');
    for (const zone of ['a', 'b', 'c']) {
      expect(Math.abs((measured.get(zone) ?? 0) - (expected.get(zone) ?? 0))).toBeLessThan(0.01);
    }
    expect(expected.get('a')).toBeCloseTo(0.4998, 4);
    expect(expected.get('b')).toBeCloseTo(0.2501, 4);
  });

  it("local 40/40/20 vs upstream 25/50/25 (Envoy's source example): 62.5% local, residual 2:1", () => {
    const endpoints = zonedEndpoints({ a: 2, b: 4, c: 2 });
    const plan = zonePlan(endpoints, { a: 4, b: 4, c: 2 });
    expect(plan.routing).toMatchObject({
      mode: 'local-residual',
      localPercentToRoute: 6250,
      residualCumulative: [1000, 1500],
    });
    const measured = zoneShares(endpoints, plan);
    expect(Math.abs((measured.get('a') ?? 0) - 0.625)).toBeLessThan(0.01);
    expect(Math.abs((measured.get('b') ?? 0) - 0.25)).toBeLessThan(0.01);
    expect(Math.abs((measured.get('c') ?? 0) - 0.125)).toBeLessThan(0.01);
  });

  it('keeps every pick local when the local zone has at least its share of endpoints', () => {
    const endpoints = zonedEndpoints({ a: 3, b: 3, c: 3 });
    const plan = zonePlan(endpoints, { a: 1, b: 1, c: 1 });
    expect(plan.routing.mode).toBe('local-direct');
    expect(zoneShares(endpoints, plan).get('a')).toBe(1);
  });

  it('does no zone routing below the minimum cluster size, nor without a healthy local endpoint', () => {
    expect(zonePlan(zonedEndpoints({ a: 1, b: 2, c: 2 }), { a: 1, b: 1, c: 1 }).routing.mode).toBe('none');
    expect(zonePlan(zonedEndpoints({ b: 4, c: 4 }), { a: 1, b: 1, c: 1 }).routing.mode).toBe('none');
    expect(zonePlan(zonedEndpoints({ a: 5, b: 4 }), { a: 1 }).routing.mode).toBe('none');
  });

  it('force-local keeps everything local while the local zone has min size endpoints', () => {
    const endpoints = zonedEndpoints({ a: 2, b: 5, c: 5 });
    expect(zonePlan(endpoints, { a: 1, b: 1, c: 1 }, { forceLocalMinSize: 2 }).routing.mode).toBe('local-direct');
    expect(zonePlan(endpoints, { a: 1, b: 1, c: 1 }, { forceLocalMinSize: 3 }).routing.mode).toBe('local-residual');
  });

  it('counts only healthy, connected endpoints as upstream capacity', () => {
    const endpoints = fakeEndpoints([
      ...Array.from({ length: 3 }, () => ({ zone: 'a' })),
      { zone: 'a', health: 'DRAINING' as const },
      { zone: 'a', ready: false },
      ...Array.from({ length: 5 }, () => ({ zone: 'b' })),
      ...Array.from({ length: 5 }, () => ({ zone: 'c' })),
    ]);
    // Healthy and ready: a 3, b 5, c 5 → upstream a = 2307 < local 3333.
    expect(zonePlan(endpoints, { a: 1, b: 1, c: 1 }).routing).toMatchObject({
      mode: 'local-residual',
      localPercentToRoute: 6921,
    });
  });
});

describe('client shares (local%)', () => {
  const published = new Map([
    ['zone-a', 0.67],
    ['zone-b', 0.33],
  ]);
  const endpointZones = ['zone-a', 'zone-b', 'zone-c'];

  it("uses the control plane's shares when they include the caller's zone", () => {
    expect(chooseClientShares({ published, configured: undefined, localZone: 'zone-b', endpointZones })).toEqual({
      source: 'control-plane',
      shares: published,
    });
    expect(chooseClientShares({ published, configured: undefined, localZone: undefined, endpointZones }).source).toBe(
      'control-plane',
    );
  });

  it("skips published shares without the caller's zone (decided before it subscribed): configured, else equal", () => {
    // Seen in the local cluster: a zone-a client handed {zone-b: 1} switched zone routing off.
    const stale = new Map([['zone-b', 1]]);
    expect(chooseClientShares({ published: stale, configured: undefined, localZone: 'zone-a', endpointZones })).toEqual(
      {
        source: 'equal',
        shares: new Map(endpointZones.map((zone) => [zone, 1])),
      },
    );
    expect(
      chooseClientShares({
        published: stale,
        configured: { 'zone-a': 2, 'zone-b': 1 },
        localZone: 'zone-a',
        endpointZones,
      }),
    ).toEqual({
      source: 'config',
      shares: new Map([
        ['zone-a', 2],
        ['zone-b', 1],
      ]),
    });
    // With equal shares the formula applies: 1 of 7 endpoints in zone-a keeps 3/7 local (Envoy's integer 42.84%).
    const routing = computeZoneRouting({
      localZone: 'zone-a',
      clientShares: chooseClientShares({ published: stale, configured: undefined, localZone: 'zone-a', endpointZones })
        .shares,
      upstreamHealthy: new Map([
        ['zone-a', 1],
        ['zone-b', 3],
        ['zone-c', 3],
      ]),
      minClusterSize: 6,
    });
    expect(routing).toMatchObject({ mode: 'local-residual', localPercentToRoute: 4284 });
  });
});

describe('panic mode and draining', () => {
  it('never picks DRAINING or UNHEALTHY endpoints while at least half are healthy', () => {
    const endpoints = fakeEndpoints([{}, {}, {}, { health: 'DRAINING' }, { health: 'UNHEALTHY' }, {}]);
    const plan = zonePlan(endpoints, {});
    expect(plan.panic).toBe(false);
    const counts = countPicks(6, PICKS, () => plan.pick());
    expect(counts[3]).toBe(0);
    expect(counts[4]).toBe(0);
  });

  it('spreads over every connected endpoint when fewer than 50% are healthy', () => {
    const endpoints = fakeEndpoints([{}, { health: 'DRAINING' }, { health: 'UNHEALTHY' }, { health: 'DRAINING' }]);
    const plan = zonePlan(endpoints, {});
    expect(plan.panic).toBe(true);
    const counts = countPicks(4, PICKS, () => plan.pick());
    for (const c of counts) expect(Math.abs(c / PICKS - 0.25)).toBeLessThan(0.01);
  });

  it('returns -1 when nothing is connected', () => {
    expect(zonePlan(fakeEndpoints([{ ready: false }, { ready: false }]), {}).pick()).toBe(-1);
  });
});
