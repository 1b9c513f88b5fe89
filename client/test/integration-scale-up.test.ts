/**
 * Scale-up over real gRPC: an endpoint added mid-run gets traffic promptly, ramped by slow start
 * (its effective weight starts at the floor and reaches full weight), and running calls are
 * undisturbed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { debugSnapshot } from '../src/index.ts';
import { SERVICE_NAME, serviceEndpoints, startBackend } from './backends.ts';
import { connectedClients, type Fleet, startFleet } from './control-plane-fixture.ts';
import { drive } from './load-driver.ts';
import { waitFor } from './wait-for.ts';

describe('scale-up', () => {
  let fleet: Fleet | undefined;
  afterAll(async () => fleet?.close());

  it('ramps a new endpoint in with slow start while no call fails', async () => {
    fleet = await startFleet(1, { services: { [SERVICE_NAME]: { slowStart: { windowMs: 3_000 } } } });
    const { backends, server } = fleet;
    const [client] = await connectedClients(['a'], 3);
    if (!client) throw new Error('no client');
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
          server.sink.replaceAll([serviceEndpoints(backends)]);
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
