/**
 * KubeDiscovery against a real kube-apiserver + etcd (testbed harness, binaries from `make tools`).
 * No controller runs: the test writes Nodes, Pods, Services and EndpointSlices itself, the way the
 * EndpointSlice controller would, and asserts on everything the sink is ever handed.
 */
import { CoreV1Api, DiscoveryV1Api, type V1Endpoint, type V1EndpointSlice, type V1Node } from '@kubernetes/client-node';
import { type LocalApiServer, startLocalApiServer } from '@skewless/testbed';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeDiscovery } from '../src/kube-discovery.ts';
import type { EndpointSink, ServicePortEndpoints } from '../src/model.ts';

/** Keeps every view it is handed, with when it was handed. */
class RecordingSink implements EndpointSink {
  readonly calls: { atMs: number; services: readonly ServicePortEndpoints[] }[] = [];
  replaceAll(services: readonly ServicePortEndpoints[]): void {
    this.calls.push({ atMs: performance.now(), services });
  }
  latest(): readonly ServicePortEndpoints[] {
    return this.calls.at(-1)?.services ?? [];
  }
  port(name: string): ServicePortEndpoints | undefined {
    return this.latest().find((s) => s.name === name);
  }
}

interface LogRecord {
  level: number;
  msg: string;
  time: number;
  [key: string]: unknown;
}

function capturingLogger(records: LogRecord[], name: string) {
  return pino(
    { level: 'debug', base: { discovery: name } },
    { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) },
  );
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return Math.round(performance.now() - started);
}

const NS = 'shop';
const OTHER_NS = 'other';

function endpoint(ip: string, extra: Partial<V1Endpoint> = {}): V1Endpoint {
  return { addresses: [ip], conditions: { ready: true }, zone: 'zone-a', ...extra };
}

function slice(name: string, service: string, ports: V1EndpointSlice['ports'], endpoints: V1Endpoint[]) {
  return {
    metadata: { name, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports,
    endpoints,
  } satisfies V1EndpointSlice;
}

const hundred = Array.from({ length: 100 }, (_, i) => `10.1.0.${i + 1}`);
const twentyFive = Array.from({ length: 25 }, (_, i) => `10.1.1.${i + 1}`);
const grpcPort = [{ name: 'grpc', port: 50051, protocol: 'TCP' }];

describe('KubeDiscovery against a real kube-apiserver', () => {
  let server: LocalApiServer;
  let core: CoreV1Api;
  let discoveryApi: DiscoveryV1Api;
  const scopedSink = new RecordingSink();
  const clusterSink = new RecordingSink();
  const scopedLogs: LogRecord[] = [];
  const clusterLogs: LogRecord[] = [];
  let scoped: KubeDiscovery;
  let cluster: KubeDiscovery;

  async function editSlice(name: string, edit: (endpoints: V1Endpoint[]) => V1Endpoint[]): Promise<void> {
    const current = await discoveryApi.readNamespacedEndpointSlice({ name, namespace: NS });
    current.endpoints = edit(current.endpoints ?? []);
    await discoveryApi.replaceNamespacedEndpointSlice({ name, namespace: NS, body: current });
  }
  const addEndpoint = (name: string, added: V1Endpoint) => editSlice(name, (all) => [...all, added]);
  const removeEndpoint = (name: string, ip: string) =>
    editSlice(name, (all) => all.filter((e) => e.addresses[0] !== ip));
  const setConditions = (name: string, ip: string, conditions: V1Endpoint['conditions']) =>
    editSlice(name, (all) => all.map((e) => (e.addresses[0] === ip ? { ...e, conditions } : e)));

  beforeAll(async () => {
    // A missing binary throws here, naming `make tools`: this suite fails rather than skips.
    server = await startLocalApiServer({ logger: pino({ level: process.env.SKEWLESS_LOG_LEVEL ?? 'warn' }) });
    console.info(`kube-apiserver ready ${server.startupMs} ms after spawn`);
    core = server.kubeConfig.makeApiClient(CoreV1Api);
    discoveryApi = server.kubeConfig.makeApiClient(DiscoveryV1Api);

    for (const name of [NS, OTHER_NS]) await core.createNamespace({ body: { metadata: { name } } });
    for (const [name, zone] of [
      ['node-a', 'zone-a'],
      ['node-b', 'zone-b'],
    ] as const) {
      await core.createNode({ body: { metadata: { name, labels: { 'topology.kubernetes.io/zone': zone } } } });
    }
    const pod = (name: string, annotations: Record<string, string>) =>
      core.createNamespacedPod({
        namespace: NS,
        body: { metadata: { name, annotations }, spec: { containers: [{ name: 'app', image: 'none' }] } },
      });
    await pod('backend-heavy', { 'skewless.dev/weight': '4', 'skewless.dev/shard': 'blue' });
    await pod('web-1', {});

    const service = (namespace: string, name: string, ports: { name: string; port: number }[]) =>
      core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { ports } } });
    await service(NS, 'backend', [{ name: 'grpc', port: 8080 }]);
    await service(NS, 'web', [
      { name: 'http', port: 80 },
      { name: 'metrics', port: 9090 },
    ]);
    await service(OTHER_NS, 'db', [{ name: 'sql', port: 5432 }]);

    const create = (namespace: string, body: V1EndpointSlice) =>
      discoveryApi.createNamespacedEndpointSlice({ namespace, body });
    // 125 endpoints over two slices; five addresses also appear, not ready, in the second slice.
    await create(
      NS,
      slice(
        'backend-1',
        'backend',
        grpcPort,
        hundred.map((ip, i) =>
          i === 0 ? endpoint(ip, { targetRef: { kind: 'Pod', name: 'backend-heavy', namespace: NS } }) : endpoint(ip),
        ),
      ),
    );
    await create(
      NS,
      slice('backend-2', 'backend', grpcPort, [
        ...twentyFive.map((ip) => endpoint(ip, { zone: 'zone-b' })),
        ...hundred.slice(0, 5).map((ip) => endpoint(ip, { conditions: { ready: false } })),
      ]),
    );
    await create(
      NS,
      slice(
        'web-1',
        'web',
        [
          { name: 'http', port: 8080 },
          { name: 'metrics', port: 9102 },
        ],
        [
          endpoint('10.2.0.1', { zone: undefined, nodeName: 'node-b', targetRef: { kind: 'Pod', name: 'web-1' } }),
          endpoint('10.2.0.2', { zone: undefined }),
        ],
      ),
    );
    await create(OTHER_NS, slice('db-1', 'db', [{ name: 'sql', port: 5432 }], [endpoint('10.3.0.1')]));

    const options = { kubeConfig: server.kubeConfig, backoff: { initialMs: 8000, maxMs: 8000 }, random: () => 0.5 };
    scoped = new KubeDiscovery({
      ...options,
      namespaces: [NS],
      sink: scopedSink,
      logger: capturingLogger(scopedLogs, 'scoped'),
    });
    cluster = new KubeDiscovery({ ...options, sink: clusterSink, logger: capturingLogger(clusterLogs, 'cluster') });
  });

  afterAll(async () => {
    await scoped?.stop();
    await cluster?.stop();
    await server?.stop();
  });

  it('publishes the complete initial state once, after every informer has listed', async () => {
    await Promise.all([scoped.start(), cluster.start()]);
    expect(scoped.isSynced()).toBe(true);
    expect(scopedSink.calls).toHaveLength(1);
    expect(clusterSink.calls).toHaveLength(1);

    expect(scopedSink.latest().map((s) => s.name)).toEqual(['shop/backend:grpc', 'shop/web:http', 'shop/web:metrics']);
    // The API server's own `kubernetes` Service has no endpoints here (no endpoint reconciler).
    expect(clusterSink.latest().map((s) => s.name)).toEqual([
      'default/kubernetes:https',
      'other/db:sql',
      'shop/backend:grpc',
      'shop/web:http',
      'shop/web:metrics',
    ]);

    const backend = scopedSink.port('shop/backend:grpc');
    expect(backend?.endpoints).toHaveLength(125);
    // The duplicate, not-ready sightings in backend-2 lose to the ready ones in backend-1.
    expect(backend?.endpoints.every((e) => e.health === 'HEALTHY')).toBe(true);
    expect(backend?.endpoints.find((e) => e.address === '10.1.0.1')).toEqual({
      address: '10.1.0.1',
      port: 50051,
      health: 'HEALTHY',
      zone: 'zone-a',
      pod: 'backend-heavy',
      podNamespace: NS,
      weight: 4,
      shard: 'blue',
    });
    expect(backend?.endpoints.filter((e) => e.zone === 'zone-b')).toHaveLength(25);
    expect(scopedSink.port('shop/web:metrics')?.endpoints.map((e) => [e.address, e.port, e.zone])).toEqual([
      ['10.2.0.1', 9102, 'zone-b'],
      ['10.2.0.2', 9102, ''],
    ]);
  });

  it('follows an endpoint being added, draining (serving + terminating) and removed', async () => {
    const find = () => scopedSink.port('shop/backend:grpc')?.endpoints.find((e) => e.address === '10.1.1.200');
    await addEndpoint('backend-2', endpoint('10.1.1.200', { zone: 'zone-b' }));
    await waitFor('the new endpoint', () => find()?.health === 'HEALTHY');

    await setConditions('backend-2', '10.1.1.200', { ready: false, serving: true, terminating: true });
    await waitFor('the endpoint to drain', () => find()?.health === 'DRAINING');

    await setConditions('backend-2', '10.1.1.200', { ready: false, serving: false, terminating: true });
    await waitFor('the endpoint to stop serving', () => find()?.health === 'UNHEALTHY');

    await removeEndpoint('backend-2', '10.1.1.200');
    await waitFor('the endpoint to go', () => find() === undefined);
    expect(scopedSink.port('shop/backend:grpc')?.endpoints).toHaveLength(125);
  });

  it("takes a slice endpoint's zone from its Node and follows the Node being relabelled", async () => {
    const zoneOf = () => scopedSink.port('shop/web:http')?.endpoints.find((e) => e.address === '10.2.0.1')?.zone;
    expect(zoneOf()).toBe('zone-b');
    const node: V1Node = await core.readNode({ name: 'node-b' });
    node.metadata = { ...node.metadata, labels: { 'topology.kubernetes.io/zone': 'zone-c' } };
    await core.replaceNode({ name: 'node-b', body: node });
    await waitFor('the new zone', () => zoneOf() === 'zone-c');
  });

  it("follows a Pod's weight annotation", async () => {
    const weightOf = () => scopedSink.port('shop/web:http')?.endpoints.find((e) => e.address === '10.2.0.1')?.weight;
    expect(weightOf()).toBe(1);
    await core.patchNamespacedPod({
      name: 'web-1',
      namespace: NS,
      body: [{ op: 'add', path: '/metadata/annotations', value: { 'skewless.dev/weight': '3' } }],
    });
    await waitFor('the new weight', () => weightOf() === 3);
  });

  it('logs a malformed slice the API server accepts once, skips only its bad parts and keeps other Services', async () => {
    // The API server validates slices strictly, but it accepts a port without a number ("all ports")
    // and, for compatibility, IPv4 addresses with leading zeros; neither is something a client can dial.
    await core.createNamespacedService({
      namespace: NS,
      body: {
        metadata: { name: 'broken' },
        spec: {
          ports: [
            { name: 'grpc', port: 8080 },
            { name: 'admin', port: 8081 },
          ],
        },
      },
    });
    await discoveryApi.createNamespacedEndpointSlice({
      namespace: NS,
      body: slice(
        'broken-1',
        'broken',
        [{ name: 'grpc' }, { name: 'admin', port: 9000 }],
        [endpoint('10.9.0.1'), endpoint('010.9.0.2')],
      ),
    });
    const backendBefore = scopedSink.port('shop/backend:grpc');
    await waitFor('the broken slice', () => scopedSink.port('shop/broken:admin')?.endpoints.length === 1);

    expect(scopedSink.port('shop/broken:admin')?.endpoints.map((e) => e.address)).toEqual(['10.9.0.1']);
    expect(scopedSink.port('shop/broken:grpc')?.endpoints).toEqual([]);
    expect(scopedSink.port('shop/backend:grpc')).toEqual(backendBefore);
    expect(scoped.lastProblems().map((p) => [p.path, p.message])).toEqual([
      ['shop/broken-1.ports[0].port', 'port without a number'],
      ['shop/broken-1.endpoints[1].addresses[0]', 'not an IP literal: "010.9.0.2"'],
    ]);

    // Unrelated changes publish again; the same problem must not be logged again.
    await addEndpoint('backend-2', endpoint('10.1.1.201'));
    await waitFor('an unrelated change', () =>
      Boolean(scopedSink.port('shop/backend:grpc')?.endpoints.some((e) => e.address === '10.1.1.201')),
    );
    const problemLines = scopedLogs.filter((r) => r.msg.startsWith('ignoring part of a EndpointSlice'));
    expect(problemLines.map((r) => r.msg)).toEqual([
      'ignoring part of a EndpointSlice: shop/broken-1.ports[0].port: port without a number',
      'ignoring part of a EndpointSlice: shop/broken-1.endpoints[1].addresses[0]: not an IP literal: "010.9.0.2"',
    ]);
    await removeEndpoint('backend-2', '10.1.1.201');
    await waitFor(
      'the unrelated change to be undone',
      () => scopedSink.port('shop/backend:grpc')?.endpoints.length === 125,
    );
  });

  it('drops a deleted Service and keeps every other one', async () => {
    await core.deleteNamespacedService({ name: 'broken', namespace: NS });
    await waitFor('the Service to go', () => scopedSink.port('shop/broken:grpc') === undefined);
    expect(scopedSink.latest().map((s) => s.name)).toEqual(['shop/backend:grpc', 'shop/web:http', 'shop/web:metrics']);
    expect(scoped.lastProblems()).toEqual([]);
  }, 60_000);

  it('never publishes an empty or partial set while the API server restarts, and follows changes after it', async () => {
    const truthBefore = new Map(scopedSink.latest().map((s) => [s.name, s.endpoints.length]));
    const clusterTruthBefore = new Map(clusterSink.latest().map((s) => [s.name, s.endpoints.length]));
    const callsBefore = { scoped: scopedSink.calls.length, cluster: clusterSink.calls.length };
    const errorsBefore = scoped.watchErrors() + cluster.watchErrors();

    const stopStarted = performance.now();
    await server.stopApiServer();
    const stopMs = Math.round(performance.now() - stopStarted);
    const errorsMs = await waitFor('watch errors', () => scoped.watchErrors() + cluster.watchErrors() > errorsBefore);
    const restartStarted = performance.now();
    const restartWallMs = Date.now();
    const readyMs = await server.restartApiServer();

    // Rewrite backend's second slice as a new one, new slice first: the truth never drops below 125
    // endpoints. Informers are still in backoff, so they find this on relist as add(backend-3) and
    // delete(backend-2) diffs: publishing between those two would show 100 endpoints.
    const old = await discoveryApi.readNamespacedEndpointSlice({ name: 'backend-2', namespace: NS });
    await discoveryApi.createNamespacedEndpointSlice({
      namespace: NS,
      body: slice('backend-3', 'backend', grpcPort, [...(old.endpoints ?? []), endpoint('10.1.1.250')]),
    });
    await discoveryApi.deleteNamespacedEndpointSlice({ name: 'backend-2', namespace: NS });

    const has250 = (sink: RecordingSink) =>
      Boolean(sink.port('shop/backend:grpc')?.endpoints.some((e) => e.address === '10.1.1.250'));
    const resumedMs = await waitFor('discovery to catch up', () => has250(scopedSink) && has250(clusterSink), 60_000);
    const restartToResumedMs = Math.round(performance.now() - restartStarted);

    for (const [sink, truth, from] of [
      [scopedSink, truthBefore, callsBefore.scoped],
      [clusterSink, clusterTruthBefore, callsBefore.cluster],
    ] as const) {
      const window = sink.calls.slice(from);
      expect(window.length).toBeGreaterThan(0);
      for (const call of window) {
        const counts = new Map(call.services.map((s) => [s.name, s.endpoints.length]));
        for (const [name, count] of truth) expect(counts.get(name) ?? -1).toBeGreaterThanOrEqual(count);
      }
      expect(sink.port('shop/backend:grpc')?.endpoints).toHaveLength(126);
    }

    // The informers really went through errors and relists (410 Gone after the restart), not a quiet reconnect.
    const relists = scopedLogs.filter((r) => r.msg === 'listed' && r.time >= restartWallMs);
    expect(relists.length).toBeGreaterThanOrEqual(4);
    expect(scoped.isSynced() && cluster.isSynced()).toBe(true);
    console.info(
      JSON.stringify({
        stopMs,
        firstWatchErrorAfterStopMs: errorsMs,
        restartReadyMs: readyMs,
        restartToResumedMs,
        catchUpAfterWritesMs: resumedMs,
        watchErrors: scoped.watchErrors() + cluster.watchErrors() - errorsBefore,
        scopedRelists: relists.length,
        callsInWindow: {
          scoped: scopedSink.calls.length - callsBefore.scoped,
          cluster: clusterSink.calls.length - callsBefore.cluster,
        },
      }),
    );

    // Watches resumed: a plain change after the restart arrives as a watch event.
    await addEndpoint('backend-3', endpoint('10.1.1.251'));
    await waitFor('a change after the restart', () =>
      Boolean(scopedSink.port('shop/backend:grpc')?.endpoints.some((e) => e.address === '10.1.1.251')),
    );
  }, 120_000);
});
