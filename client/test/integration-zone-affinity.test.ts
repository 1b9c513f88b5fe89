/**
 * Zone affinity over real gRPC and the real control plane: balanced zones stay local; when two of
 * zone a's three backends go away, zone a's clients keep Envoy's share local and spill the rest by
 * residual capacity, and no backend is overloaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debugSnapshot } from '../src/index.ts';
import { computeZoneRouting, expectedZoneShares } from '../src/zone-routing.ts';
import { maxOverMean, resetCounts, serviceEndpoints } from './backends.ts';
import { balancerEndpointCounts, connectedClients, type Fleet, startFleet } from './control-plane-fixture.ts';
import { drive, type LoadResult } from './load-driver.ts';
import { waitFor } from './wait-for.ts';

const CLIENT_ZONES = ['a', 'a', 'b', 'b', 'c', 'c'];

function sameZoneShare(result: LoadResult, clientIndexes: readonly number[]): number {
  let same = 0;
  let total = 0;
  for (const i of clientIndexes) {
    for (const [zone, n] of result.zonesByClient[i] as Map<string, number>) {
      total += n;
      if (zone === CLIENT_ZONES[i]) same += n;
    }
  }
  return same / total;
}

describe('zone affinity', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet(3);
  });
  afterAll(async () => fleet?.close());

  it('stays ≥ 99% in-zone when zones are balanced, and spills by the formula when zone a loses 2 of 3', async () => {
    const clients = await connectedClients(CLIENT_ZONES, 9);
    const balanced = await drive(clients, { perClient: 2_000, concurrency: 8, maxMs: 60_000 });
    const balancedShare = sameZoneShare(balanced, [0, 1, 2, 3, 4, 5]);

    // Zone a keeps only a-0: Envoy's formula for local {1,1,1} vs upstream {1,3,3}.
    const remaining = fleet.backends.filter((b) => b.pod !== 'a-1' && b.pod !== 'a-2');
    fleet.server.sink.replaceAll([serviceEndpoints(remaining)]);
    await waitFor('7 endpoints in every channel', () => balancerEndpointCounts().every((n) => n === 7));
    resetCounts(fleet.backends);
    const degraded = await drive(clients, { perClient: 6_000, concurrency: 8, maxMs: 60_000 });
    const formula = expectedZoneShares(
      computeZoneRouting({
        localZone: 'a',
        clientShares: new Map([
          ['a', 1],
          ['b', 1],
          ['c', 1],
        ]),
        upstreamHealthy: new Map([
          ['a', 1],
          ['b', 3],
          ['c', 3],
        ]),
        minClusterSize: 6,
      }),
      'a',
    ).get('a') as number;
    const localShareA = sameZoneShare(degraded, [0, 1]);
    const counts = remaining.map((b) => b.calls);
    const ratio = maxOverMean(counts);
    const routing = debugSnapshot().balancers.map((b) => `${b.localZone}:${b.zoneRouting.mode}`);
    console.log(
      `balanced same-zone share ${(100 * balancedShare).toFixed(2)}%; zone a local share after losing 2 of 3: ` +
        `${(100 * localShareA).toFixed(2)}% (formula ${(100 * formula).toFixed(2)}%); zone b/c same-zone ` +
        `${(100 * sameZoneShare(degraded, [2, 3, 4, 5])).toFixed(2)}%; per-backend max/mean ${ratio.toFixed(3)} ` +
        `(${remaining.map((b, i) => `${b.pod}=${counts[i]}`).join(' ')}); routing ${routing.join(' ')}`,
    );
    for (const c of clients) c.close();

    expect(balanced.failures).toEqual([]);
    expect(degraded.failures).toEqual([]);
    expect(balancedShare).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(localShareA - formula)).toBeLessThanOrEqual(0.03);
    expect(ratio).toBeLessThanOrEqual(1.2);
  });
});
