/**
 * Scale-up over real gRPC: an endpoint added mid-run gets traffic promptly, ramped by slow start
 * (its effective weight starts at the floor and reaches full weight), and running calls are
 * undisturbed.
 */
import type { XdsServer } from '@skewless/control-plane';
import { afterAll, describe, expect, it } from 'vitest';
import { debugSnapshot, type Registration } from '../src/index.ts';
import { type Backend, SERVICE_NAME, serviceEndpoints, startBackend, startZonedBackends } from './backends.ts';
import { allBalancersReady, registerClient, skewlessClients, startControlPlane } from './control-plane-fixture.ts';
import { drive } from './load-driver.ts';
import { waitFor } from './wait-for.ts';

describe('scale-up', () => {
  const backends: Backend[] = [];
  let controlPlane: { server: XdsServer; port: number } | undefined;
  let registration: Registration | undefined;
  afterAll(async () => {
    registration?.close();
    await controlPlane?.server.close(50);
    await Promise.all(backends.map((b) => b.close()));
  });

  it('ramps a new endpoint in with slow start while no call fails', async () => {
    backends.push(...(await startZonedBackends(1)));
    controlPlane = await startControlPlane();
    const cp = controlPlane;
    cp.server.sink.replaceAll([serviceEndpoints(backends)]);
    registration = registerClient(cp.port, { services: { [SERVICE_NAME]: { slowStart: { windowMs: 3_000 } } } });
    const [client] = skewlessClients(['a']);
    if (!client) throw new Error('no client');
    await waitFor('3 connected endpoints', () => {
      client.getChannel().getConnectivityState(true);
      return allBalancersReady(1, 3);
    });
    const newcomer = await startBackend('a-new', 'a');
    backends.push(newcomer);
    const weights: number[] = [];
    const result = await drive([client], {
      perClient: 6_000,
      concurrency: 8,
      delayMs: 1,
      maxMs: 60_000,
      midRun: {
        afterCalls: 500,
        action: async () => {
          cp.server.sink.replaceAll([serviceEndpoints(backends)]);
          const find = () =>
            debugSnapshot().balancers[0]?.endpoints.find((e) => e.address.endsWith(`:${newcomer.port}`));
          await waitFor('the new endpoint connected', () => find()?.connectivity === 'READY');
          weights.push(find()?.effectiveWeight ?? -1);
          await waitFor('the new endpoint at full weight', () => (find()?.effectiveWeight ?? 0) === 1, 10_000);
          weights.push(find()?.effectiveWeight ?? -1);
        },
      },
    });
    console.log(
      `slow start: effective weight ${weights[0]?.toFixed(2)} once connected, then ${weights[1]}; new endpoint served ${newcomer.calls} of ${result.ok}`,
    );
    expect(result.failures).toEqual([]);
    expect(weights[0]).toBeLessThan(0.5);
    expect(weights[1]).toBe(1);
    expect(newcomer.calls).toBeGreaterThan(0);
    client.close();
  });
});
