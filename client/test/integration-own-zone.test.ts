/**
 * A client with NO zone configured learns it from the control plane (issue #3 "Own zone").
 *
 * Two halves, each real: the zone resolver is a real KubeDiscovery (`zoneOfPod`) against a real
 * kube-apiserver, where the test writes Nodes with zone labels and Pods bound to them through
 * `spec.nodeName` (no scheduler runs). The endpoints, however, are fed to the real xDS server with
 * `sink.replaceAll`, because they are loopback echo backends and the API server rejects loopback
 * addresses in EndpointSlices. The client runs with only POD_NAME / POD_NAMESPACE set; two fleet
 * peers (other pods, in zone-b and zone-c) make the fleet balanced over the three zones.
 *
 * The client's Pod is created only after the client connected: the control plane cannot know its
 * zone at the first request, and must resolve it when discovery sees the Pod.
 */
import * as grpc from '@grpc/grpc-js';
import { CoreV1Api } from '@kubernetes/client-node';
import { createXdsServer, KubeDiscovery, type XdsServer } from '@skewless/control-plane';
import { createLogger, echoGrpc } from '@skewless/shared';
import { type LocalApiServer, startLocalApiServer } from '@skewless/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debugSnapshot, type Registration } from '../src/index.ts';
import { type Backend, SERVICE_NAME, serviceEndpoints, startZonedBackends } from './backends.ts';
import { registerClient, silentLogger } from './control-plane-fixture.ts';
import { type FleetPeer, startFleetPeer } from './fleet-peer.ts';
import { drive } from './load-driver.ts';
import { waitFor } from './wait-for.ts';

const NS = 'fleet';
const ZONES = ['zone-a', 'zone-b', 'zone-c'];

describe('own zone learned from the control plane', () => {
  let apiServer: LocalApiServer;
  let core: CoreV1Api;
  let discovery: KubeDiscovery;
  let backends: Backend[];
  let server: XdsServer;
  let port: number;
  let registration: Registration;
  const peers: FleetPeer[] = [];
  const savedEnv = { ...process.env };

  const createPod = (name: string, nodeName: string) =>
    core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name }, spec: { nodeName, containers: [{ name: 'app', image: 'none' }] } },
    });

  beforeAll(async () => {
    apiServer = await startLocalApiServer({
      logger: createLogger('apiserver', process.env.SKEWLESS_LOG_LEVEL ?? 'warn'),
    });
    core = apiServer.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    for (const zone of ZONES) {
      await core.createNode({
        body: { metadata: { name: `node-${zone}`, labels: { 'topology.kubernetes.io/zone': zone } } },
      });
    }
    await createPod('peer-b', 'node-zone-b');
    await createPod('peer-c', 'node-zone-c');

    server = createXdsServer({
      logger: silentLogger,
      batchWindowMs: 5,
      // Short settle and rate-limit intervals keep the test quick; the defaults are unit-tested.
      clientShares: { settleMs: 200, minIntervalMs: 200, shareOnlyDelayMs: 200 },
      resolveClientZone: ({ podNamespace, podName }) =>
        podNamespace && podName ? discovery.zoneOfPod(podNamespace, podName) : undefined,
    });
    discovery = new KubeDiscovery({
      kubeConfig: apiServer.kubeConfig,
      namespaces: [NS],
      // Endpoints come from loopback backends below, not from this API server.
      sink: { replaceAll: () => {} },
      logger: silentLogger,
      onPodZonesChanged: () => server.refreshClientZones(),
    });
    await discovery.start();
    backends = await startZonedBackends(3, ZONES);
    server.sink.replaceAll([serviceEndpoints(backends)]);
    port = await server.bind('127.0.0.1:0');

    process.env.POD_NAME = 'client-a';
    process.env.POD_NAMESPACE = NS;
    delete process.env.SKEWLESS_ZONE;
    registration = registerClient(port);
  }, 120_000);

  afterAll(async () => {
    process.env = savedEnv;
    for (const peer of peers) peer.close();
    registration?.close();
    await server?.close(100);
    await discovery?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
    await apiServer?.stop();
  });

  it('resolves Pod → Node → zone once the Pod exists, and then keeps ≥ 99% of calls in that zone', async () => {
    const { Client } = echoGrpc();
    const client = new Client(`skewless:///${SERVICE_NAME}`, grpc.credentials.createInsecure());
    client.getChannel().getConnectivityState(true);
    peers.push(startFleetPeer(port, SERVICE_NAME, { podName: 'peer-b', podNamespace: NS }));
    peers.push(startFleetPeer(port, SERVICE_NAME, { podName: 'peer-c', podNamespace: NS }));
    const balancer = () => debugSnapshot().balancers[0];
    await waitFor(
      '9 connected endpoints',
      () => balancer()?.endpoints.filter((e) => e.connectivity === 'READY').length === 9,
      30_000,
    );
    // The client's Pod does not exist yet: no zone can be known.
    expect(balancer()?.localZone).toBeUndefined();

    await createPod('client-a', 'node-zone-a');
    await waitFor('the client to learn zone-a', () => balancer()?.localZone === 'zone-a', 30_000);
    await waitFor('balanced fleet shares published and used', () => {
      const shares = balancer()?.clientShares;
      return shares?.source === 'control-plane' && Object.keys(shares.shares).length === 3;
    });

    const result = await drive([client], { perClient: 3_000, concurrency: 8, maxMs: 60_000 });
    const zones = result.zonesByClient[0] ?? new Map<string, number>();
    const total = [...zones.values()].reduce((a, b) => a + b, 0);
    const sameZone = (zones.get('zone-a') ?? 0) / total;
    const snapshot = balancer();
    console.log(
      `no configured zone, POD_NAME=client-a on node-zone-a: learned ${snapshot?.localZone}; same-zone share ` +
        `${(100 * sameZone).toFixed(2)}% of ${total} calls (${JSON.stringify(Object.fromEntries(zones))}); ` +
        `client shares ${snapshot?.clientShares.source} ${JSON.stringify(snapshot?.clientShares.shares)}; ` +
        `routing ${snapshot?.zoneRouting.mode}`,
    );
    client.close();
    expect(result.failures).toEqual([]);
    expect(total).toBe(3_000);
    expect(sameZone).toBeGreaterThanOrEqual(0.99);
  }, 120_000);
});
