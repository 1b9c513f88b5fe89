/**
 * Over real gRPC on loopback with the real control plane: 3 zones × 3 backends, 6 clients each
 * with one long-lived channel. Per-request balancing spreads calls evenly; the connection-level
 * baseline (each client pinned at connect time to one backend, as kube-proxy does) does not.
 */
import * as grpc from '@grpc/grpc-js';
import { echoGrpc } from '@skewless/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../src/random.ts';
import { type Backend, maxOverMean, resetCounts } from './backends.ts';
import { connectedClients, type Fleet, startFleet } from './control-plane-fixture.ts';
import { drive } from './load-driver.ts';

const CLIENT_ZONES = ['a', 'a', 'b', 'b', 'c', 'c'];
const PER_CLIENT = 5_000;

describe('per-request distribution vs connection-level baseline', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet(3);
  });
  afterAll(async () => fleet?.close());

  it('keeps per-backend max/mean ≤ 1.05 over 30k calls, where pinned connections skew', async () => {
    const clients = await connectedClients(CLIENT_ZONES, 9);
    const ours = await drive(clients, { perClient: PER_CLIENT, concurrency: 8, maxMs: 60_000 });
    const oursCounts = fleet.backends.map((b) => b.calls);
    for (const c of clients) c.close();

    resetCounts(fleet.backends);
    const { Client } = echoGrpc();
    const pinned = CLIENT_ZONES.map((_, i) => {
      const backend = fleet.backends[Math.floor(seededRandom(1000 + i)() * fleet.backends.length)] as Backend;
      return new Client(`127.0.0.1:${backend.port}`, grpc.credentials.createInsecure(), {
        'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ pick_first: {} }] }),
        'grpc.use_local_subchannel_pool': 1,
      });
    });
    const baseline = await drive(pinned, { perClient: PER_CLIENT, concurrency: 8, maxMs: 60_000 });
    const baselineCounts = fleet.backends.map((b) => b.calls);
    for (const c of pinned) c.close();

    const oursRatio = maxOverMean(oursCounts);
    const baselineRatio = maxOverMean(baselineCounts);
    console.log(
      [
        'per-backend calls   skewless (p2c)   pinned baseline',
        ...fleet.backends.map(
          (b, i) =>
            `${b.pod.padEnd(18)}  ${String(oursCounts[i]).padStart(14)}   ${String(baselineCounts[i]).padStart(15)}`,
        ),
        `max/mean            ${oursRatio.toFixed(3).padStart(14)}   ${baselineRatio.toFixed(3).padStart(15)}`,
      ].join('\n'),
    );
    expect(ours.failures).toEqual([]);
    expect(ours.ok).toBe(30_000);
    expect(baseline.ok).toBe(30_000);
    expect(oursRatio).toBeLessThanOrEqual(1.05);
    expect(baselineRatio).toBeGreaterThan(1.4);
  });
});
