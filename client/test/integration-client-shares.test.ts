/**
 * The fleet's per-zone shares come from the control plane over real gRPC: with 2 subscribers in
 * zone-a (this process's client and a peer) and 1 in zone-b, the control plane publishes
 * 0.67 / 0.33 and our client's zone routing uses them (source 'control-plane'), giving Envoy's
 * formula for local% {a: 0.67, b: 0.33} against upstream {a: 3, b: 3}.
 */
import * as grpc from '@grpc/grpc-js';
import { createXdsServer, type XdsServer } from '@skewless/control-plane';
import { echoGrpc } from '@skewless/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debugSnapshot, type Registration } from '../src/index.ts';
import { computeZoneRouting } from '../src/zone-routing.ts';
import { type Backend, SERVICE_NAME, serviceEndpoints, startZonedBackends } from './backends.ts';
import { registerClient, silentLogger } from './control-plane-fixture.ts';
import { type FleetPeer, startFleetPeer } from './fleet-peer.ts';
import { waitFor } from './wait-for.ts';

describe('client shares from the control plane', () => {
  let backends: Backend[];
  let server: XdsServer;
  let port: number;
  let registration: Registration;
  const peers: FleetPeer[] = [];

  beforeAll(async () => {
    backends = await startZonedBackends(3, ['zone-a', 'zone-b']);
    // Short settle and rate-limit intervals keep the test quick; the defaults are unit-tested.
    server = createXdsServer({
      logger: silentLogger,
      batchWindowMs: 5,
      clientShares: { settleMs: 200, minIntervalMs: 200, shareOnlyDelayMs: 200 },
    });
    server.sink.replaceAll([serviceEndpoints(backends)]);
    port = await server.bind('127.0.0.1:0');
    registration = registerClient(port, { zone: 'zone-a' });
  });

  afterAll(async () => {
    for (const peer of peers) peer.close();
    registration?.close();
    await server?.close(100);
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('publishes 0.67 / 0.33 for 2 clients in zone-a and 1 in zone-b, and the client routes with them', async () => {
    const { Client } = echoGrpc();
    const client = new Client(`skewless:///${SERVICE_NAME}`, grpc.credentials.createInsecure());
    client.getChannel().getConnectivityState(true);
    peers.push(startFleetPeer(port, SERVICE_NAME, { zone: 'zone-a' }));
    peers.push(startFleetPeer(port, SERVICE_NAME, { zone: 'zone-b' }));

    const expected = new Map([
      ['zone-a', 0.67],
      ['zone-b', 0.33],
    ]);
    await waitFor('the control plane to publish 0.67 / 0.33', () => {
      const published = server.publishedShares(SERVICE_NAME);
      return published?.get('zone-a') === 0.67 && published.get('zone-b') === 0.33 && published.size === 2;
    });
    const balancer = () => debugSnapshot().balancers[0];
    await waitFor('the client to route with the control-plane shares', () => {
      const shares = balancer()?.clientShares;
      return shares?.source === 'control-plane' && shares.shares['zone-b'] === 0.33;
    });
    await waitFor(
      '6 connected endpoints',
      () => balancer()?.endpoints.filter((e) => e.connectivity === 'READY').length === 6,
    );

    const snapshot = balancer();
    console.log(
      `published shares ${JSON.stringify(Object.fromEntries(server.publishedShares(SERVICE_NAME) ?? []))}; ` +
        `client: source ${snapshot?.clientShares.source} ${JSON.stringify(snapshot?.clientShares.shares)}, ` +
        `routing ${JSON.stringify(snapshot?.zoneRouting)}`,
    );
    expect(snapshot?.clientShares).toEqual({ source: 'control-plane', shares: Object.fromEntries(expected) });
    expect(snapshot?.localZone).toBe('zone-a');
    expect(snapshot?.zoneRouting).toEqual(
      computeZoneRouting({
        localZone: 'zone-a',
        clientShares: expected,
        upstreamHealthy: new Map([
          ['zone-a', 3],
          ['zone-b', 3],
        ]),
        minClusterSize: 6,
      }),
    );
    // upstream 50% < local 67%: Envoy keeps 5000/6700 of the calls local.
    expect(snapshot?.zoneRouting).toMatchObject({ mode: 'local-residual', localPercentToRoute: 7462 });
    client.close();
  });
});
