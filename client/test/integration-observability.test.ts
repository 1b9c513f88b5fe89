/** Metrics and the debug snapshot reflect real calls through the real control plane. */
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { debugSnapshot } from '../src/index.ts';
import { connectedClients, type Fleet, startFleet } from './control-plane-fixture.ts';
import { drive } from './load-driver.ts';

describe('observability', () => {
  let fleet: Fleet | undefined;
  afterAll(async () => fleet?.close());

  it('counts picks per endpoint in prom-client and in debugSnapshot()', async () => {
    const registry = new Registry();
    fleet = await startFleet(1, { metrics: { registry } });
    const [client] = await connectedClients(['a'], 3);
    if (!client) throw new Error('no client');
    const result = await drive([client], { perClient: 300, concurrency: 4, maxMs: 20_000 });
    expect(result.ok).toBe(300);

    const snapshot = debugSnapshot();
    const balancer = snapshot.balancers[0];
    expect(balancer?.service).toBe('default/backend:grpc');
    expect(balancer?.localZone).toBe('a');
    expect(balancer?.strategy).toBe('p2c');
    expect(balancer?.endpoints.map((e) => e.zone).sort()).toEqual(['a', 'b', 'c']);
    expect(balancer?.endpoints.reduce((n, e) => n + e.successes, 0)).toBe(300);
    for (const e of balancer?.endpoints ?? []) {
      expect(e.inFlight).toBe(0);
      expect(e.ewmaMs).toBeGreaterThan(0);
    }
    expect(snapshot.controlPlanes[0]?.connected).toBe(true);
    expect(snapshot.controlPlanes[0]?.acks).toBeGreaterThanOrEqual(1);

    const picks = (await registry.getSingleMetric('skewless_client_picks_total')?.get())?.values ?? [];
    expect(picks.reduce((n, v) => n + v.value, 0)).toBe(balancer?.endpoints.reduce((n, e) => n + e.picks, 0));
    const text = await registry.metrics();
    expect(text).toContain('skewless_client_xds_connected{control_plane="127.0.0.1:');
    expect(text).toMatch(/skewless_client_endpoints\{service="default\/backend:grpc",state="healthy"\} 3/);
    client.close();
  });
});
