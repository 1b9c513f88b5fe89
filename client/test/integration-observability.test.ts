/** Metrics and the debug snapshot reflect real calls through the real control plane. */
import type { XdsServer } from '@skewless/control-plane';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { debugSnapshot, type Registration } from '../src/index.ts';
import { type Backend, serviceEndpoints, startZonedBackends } from './backends.ts';
import { allBalancersReady, registerClient, skewlessClients, startControlPlane } from './control-plane-fixture.ts';
import { drive } from './load-driver.ts';
import { waitFor } from './wait-for.ts';

describe('observability', () => {
  let backends: Backend[] = [];
  let controlPlane: { server: XdsServer; port: number } | undefined;
  let registration: Registration | undefined;
  afterAll(async () => {
    registration?.close();
    await controlPlane?.server.close(50);
    await Promise.all(backends.map((b) => b.close()));
  });

  it('counts picks per endpoint in prom-client and in debugSnapshot()', async () => {
    backends = await startZonedBackends(1);
    controlPlane = await startControlPlane();
    controlPlane.server.sink.replaceAll([serviceEndpoints(backends)]);
    const registry = new Registry();
    registration = registerClient(controlPlane.port, { metrics: { registry } });
    const [client] = skewlessClients(['a']);
    if (!client) throw new Error('no client');
    await waitFor('3 connected endpoints', () => {
      client.getChannel().getConnectivityState(true);
      return allBalancersReady(1, 3);
    });
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
