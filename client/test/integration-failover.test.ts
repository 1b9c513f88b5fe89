/**
 * Static stability and clean draining over real gRPC with the real control plane: killing the
 * control plane mid-run fails no call (and the client reconnects when it returns); an endpoint
 * marked DRAINING and then removed mid-run fails no call and gets no new ones; a draining endpoint
 * whose server has closed is not reconnected to.
 */
import { createServer, type Server } from 'node:net';
import type { XdsServer } from '@skewless/control-plane';
import { afterEach, describe, expect, it } from 'vitest';
import { debugSnapshot, type Registration } from '../src/index.ts';
import { type Backend, serviceEndpoints, startZonedBackends } from './backends.ts';
import {
  allBalancersReady,
  balancerEndpointCounts,
  registerClient,
  skewlessClients,
  startControlPlane,
} from './control-plane-fixture.ts';
import { drive } from './load-driver.ts';
import { waitFor } from './wait-for.ts';

const CLIENT_ZONES = ['a', 'a', 'b', 'b', 'c', 'c'];

describe('failover', () => {
  let backends: Backend[] = [];
  const servers: XdsServer[] = [];
  let registration: Registration | undefined;

  const listeners: Server[] = [];

  afterEach(async () => {
    for (const l of listeners.splice(0)) l.close();
    registration?.close();
    await Promise.all(servers.splice(0).map((s) => s.close(50)));
    await Promise.all(backends.map((b) => b.close()));
  });

  async function setUp() {
    backends = await startZonedBackends(3);
    const controlPlane = await startControlPlane();
    servers.push(controlPlane.server);
    controlPlane.server.sink.replaceAll([serviceEndpoints(backends)]);
    registration = registerClient(controlPlane.port);
    const clients = skewlessClients(CLIENT_ZONES);
    await waitFor('every channel connected to 9 endpoints', () => {
      for (const c of clients) c.getChannel().getConnectivityState(true);
      return allBalancersReady(clients.length, 9);
    });
    return { controlPlane, clients };
  }

  it('fails no call when the control plane is killed mid-run, and resubscribes when it returns', async () => {
    const { controlPlane, clients } = await setUp();
    const result = await drive(clients, {
      perClient: 3_000,
      concurrency: 8,
      maxMs: 60_000,
      midRun: { afterCalls: 3_000, action: () => controlPlane.server.close(0) },
    });
    const during = debugSnapshot().controlPlanes[0];
    expect(result.failures).toEqual([]);
    expect(result.ok).toBe(18_000);
    expect(during?.connected).toBe(false);
    // Every channel still balances over all 9 endpoints it last knew.
    expect(balancerEndpointCounts()).toEqual([9, 9, 9, 9, 9, 9]);
    const spread = new Set(result.podsByClient.flatMap((m) => [...m.keys()]));
    expect(spread.size).toBe(9);

    // The control plane comes back on the same port with one backend fewer: the client follows.
    const again = await startControlPlane(`127.0.0.1:${controlPlane.port}`);
    servers.push(again.server);
    again.server.sink.replaceAll([serviceEndpoints(backends.slice(1))]);
    await waitFor('the new assignment', () => balancerEndpointCounts().every((n) => n === 8), 15_000);
    expect(debugSnapshot().controlPlanes[0]?.streamsStarted).toBeGreaterThanOrEqual(2);
    for (const c of clients) c.close();
  });

  it('fails no call when an endpoint is marked DRAINING and then removed mid-run', async () => {
    const { controlPlane, clients } = await setUp();
    const victim = backends.find((b) => b.pod === 'b-0') as Backend;
    const sink = controlPlane.server.sink;
    let callsWhenDrainingSeen = -1;
    let callsWhenRemoved = -1;
    const sawDraining = () =>
      debugSnapshot().balancers.every(
        (b) => b.endpoints.find((e) => e.address.endsWith(`:${victim.port}`))?.health === 'DRAINING',
      );
    const result = await drive(clients, {
      perClient: 3_000,
      concurrency: 8,
      delayMs: 2,
      maxMs: 60_000,
      midRun: {
        afterCalls: 3_000,
        action: async () => {
          sink.replaceAll([serviceEndpoints(backends, { 'b-0': 'DRAINING' })]);
          await waitFor('every channel to see b-0 draining', sawDraining);
          callsWhenDrainingSeen = victim.calls;
          sink.replaceAll([serviceEndpoints(backends.filter((b) => b !== victim))]);
          // Released only once its in-flight calls ended: then nothing can reach it any more.
          await waitFor('b-0 released by every channel', () =>
            debugSnapshot().balancers.every((b) => !b.endpoints.some((e) => e.address.endsWith(`:${victim.port}`))),
          );
          callsWhenRemoved = victim.calls;
          await victim.close();
        },
      },
    });
    console.log(
      `draining: b-0 served ${callsWhenDrainingSeen} calls before all channels saw DRAINING, ` +
        `${callsWhenRemoved - callsWhenDrainingSeen} after (already in flight), ${victim.calls - callsWhenRemoved} after removal; ` +
        `${result.ok} ok, ${result.failures.length} failed`,
    );
    expect(result.failures).toEqual([]);
    expect(result.ok).toBe(18_000);
    expect(callsWhenDrainingSeen).toBeGreaterThan(0);
    // At most the calls already picked when DRAINING arrived (6 clients × 8 concurrent).
    expect(callsWhenRemoved - callsWhenDrainingSeen).toBeLessThanOrEqual(48);
    expect(victim.calls).toBe(callsWhenRemoved);
    for (const c of clients) c.close();
  });

  it('does not reconnect to a draining endpoint whose server closed, and does once it is healthy again', async () => {
    const { controlPlane, clients } = await setUp();
    const victim = backends.find((b) => b.pod === 'b-0') as Backend;
    const sink = controlPlane.server.sink;
    const victimIn = (connectivity: string[]) =>
      debugSnapshot().balancers.every((b) => {
        const e = b.endpoints.find((x) => x.address.endsWith(`:${victim.port}`));
        return e?.health === 'DRAINING' && connectivity.includes(e.connectivity);
      });
    sink.replaceAll([serviceEndpoints(backends, { 'b-0': 'DRAINING' })]);
    await waitFor('every channel to see b-0 draining', () => victimIn(['READY']));
    await victim.close();
    await waitFor('every channel to lose its b-0 connection', () => victimIn(['IDLE', 'TRANSIENT_FAILURE']));

    // Something listens on b-0's port again and counts who knocks (grpc-js reconnects after ~1 s).
    let connections = 0;
    const counter = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    listeners.push(counter);
    await new Promise<void>((resolve, reject) => {
      counter.once('error', reject);
      counter.listen(victim.port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(connections).toBe(0);
    expect(victimIn(['IDLE'])).toBe(true);

    // The same endpoint marked healthy again: every channel connects to it at once.
    sink.replaceAll([serviceEndpoints(backends)]);
    await waitFor('channels to reconnect to b-0', () => connections >= clients.length);
    for (const c of clients) c.close();
  });
});
