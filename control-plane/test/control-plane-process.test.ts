/**
 * The whole control plane as users run it — the `skewless control-plane` command, as its own
 * process — between a real kube-apiserver + etcd and a subscribed xDS client. The test writes
 * Services and EndpointSlices the way the EndpointSlice controller would (it arrives in #4).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CoreV1Api, DiscoveryV1Api, type V1Endpoint } from '@kubernetes/client-node';
import {
  type ClusterLoadAssignment__Output,
  createLogger,
  type DiscoveryResponse__Output,
  decodeMessage,
  TYPE_URL,
} from '@skewless/shared';
import {
  freePort,
  type LocalApiServer,
  type ProcessGroup,
  startLocalApiServer,
  startProcessGroup,
  waitReady,
} from '@skewless/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SotwTestClient, testNode } from './support/ads-test-client.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const logger = createLogger('control-plane-process.test', 'warn');
const NS = 'shop';
const NAME = 'shop/cart:grpc';

/** Every assignment the subscriber received for NAME, in order; it ACKs each one like a real client. */
class RecordingSubscriber {
  readonly assignments: { atMs: number; endpoints: { address: string; zone: string; health: string }[] }[] = [];
  readonly clusters: string[][] = [];
  private readonly client: SotwTestClient;
  private stopped = false;

  constructor(port: number) {
    this.client = new SotwTestClient(port, testNode('recording-subscriber', 'zone-a'));
    this.client.send({ type_url: TYPE_URL.cluster, resource_names: [] });
    this.client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [NAME] });
    void this.pump();
  }

  private async pump(): Promise<void> {
    while (!this.stopped) {
      let response: DiscoveryResponse__Output;
      try {
        response = await this.client.next('xDS response', 60_000);
      } catch {
        // Either a quiet minute (keep listening) or the stream ended (stop: it will not restart).
        if (this.client.ended()) return;
        continue;
      }
      if (response.type_url === TYPE_URL.clusterLoadAssignment) {
        for (const any of response.resources) {
          const cla = decodeMessage<ClusterLoadAssignment__Output>(TYPE_URL.clusterLoadAssignment, any.value);
          if (cla.cluster_name !== NAME) continue;
          this.assignments.push({
            atMs: performance.now(),
            endpoints: cla.endpoints.flatMap((locality) =>
              locality.lb_endpoints.map((lb) => ({
                address: lb.endpoint?.address?.socket_address?.address ?? '',
                zone: locality.locality?.zone ?? '',
                health: lb.health_status,
              })),
            ),
          });
        }
        this.client.ack(response, [NAME]);
      } else {
        this.clusters.push(response.resources.map((any) => any.type_url));
        this.client.ack(response);
      }
    }
  }

  latest() {
    return this.assignments.at(-1)?.endpoints ?? [];
  }

  /** How the server ended this subscriber's stream. */
  streamStatus(timeoutMs: number) {
    return this.client.status(timeoutMs);
  }

  close(): void {
    this.stopped = true;
    this.client.close();
  }
}

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const endpoint = (ip: string, zone: string | undefined, conditions: V1Endpoint['conditions'], nodeName?: string) => ({
  addresses: [ip],
  conditions,
  ...(zone ? { zone } : {}),
  ...(nodeName ? { nodeName } : {}),
  targetRef: { kind: 'Pod', namespace: NS, name: `cart-${ip.split('.').at(-1)}` },
});
const READY = { ready: true, serving: true, terminating: false };
const TERMINATING = { ready: false, serving: true, terminating: true };

describe('skewless control-plane, between a real kube-apiserver and an xDS subscriber', () => {
  let api: LocalApiServer;
  let controlPlane: ProcessGroup;
  let subscriber: RecordingSubscriber;
  let httpPort: number;
  let core: CoreV1Api;
  let discovery: DiscoveryV1Api;
  const dir = mkdtempSync(path.join(tmpdir(), 'skewless-cp-test-'));

  const writeSlice = (endpoints: ReturnType<typeof endpoint>[]) =>
    discovery.replaceNamespacedEndpointSlice({
      name: 'cart-1',
      namespace: NS,
      body: {
        metadata: { name: 'cart-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'cart' } },
        addressType: 'IPv4',
        ports: [{ name: 'grpc', port: 50051, protocol: 'TCP' }],
        endpoints,
      },
    });

  beforeAll(async () => {
    api = await startLocalApiServer({ logger });
    core = api.kubeConfig.makeApiClient(CoreV1Api);
    discovery = api.kubeConfig.makeApiClient(DiscoveryV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNode({
      body: { metadata: { name: 'node-c', labels: { 'topology.kubernetes.io/zone': 'zone-c' } } },
    });
    await core.createNamespacedService({
      namespace: NS,
      body: {
        metadata: { name: 'cart' },
        spec: { ports: [{ name: 'grpc', port: 50051 }], selector: { app: 'cart' } },
      },
    });
    await discovery.createNamespacedEndpointSlice({
      namespace: NS,
      body: {
        metadata: { name: 'cart-1', labels: { 'kubernetes.io/service-name': 'cart' } },
        addressType: 'IPv4',
        ports: [{ name: 'grpc', port: 50051, protocol: 'TCP' }],
        endpoints: [endpoint('10.0.0.1', 'zone-a', READY), endpoint('10.0.0.2', 'zone-b', READY)],
      },
    });

    const xdsPort = await freePort();
    httpPort = await freePort();
    controlPlane = startProcessGroup({
      command: path.join(repoRoot, 'node_modules/.bin/node'),
      args: [
        path.join(repoRoot, 'cli/src/main.ts'),
        'control-plane',
        `--kubeconfig=${api.kubeconfigPath}`,
        `--namespaces=${NS}`,
        `--xds-address=127.0.0.1:${xdsPort}`,
        `--http-address=127.0.0.1:${httpPort}`,
      ],
      logFile: path.join(dir, 'control-plane.log'),
    });
    await waitReady({
      what: 'skewless control-plane /readyz',
      process: controlPlane,
      timeoutMs: 60_000,
      logger,
      probe: async () => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
        return res.ok ? true : `${res.status} ${await res.text()}`;
      },
    });
    subscriber = new RecordingSubscriber(xdsPort);
  });

  afterAll(async () => {
    subscriber?.close();
    await controlPlane?.stop(5000);
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the Service written to the API server as an assignment, one locality per zone', async () => {
    await until('the first assignment', () => subscriber.latest().length === 2);
    expect(subscriber.latest()).toEqual([
      { address: '10.0.0.1', zone: 'zone-a', health: 'HEALTHY' },
      { address: '10.0.0.2', zone: 'zone-b', health: 'HEALTHY' },
    ]);
  });

  it('propagates an added endpoint, taking its zone from its Node when the slice has none', async () => {
    await writeSlice([
      endpoint('10.0.0.1', 'zone-a', READY),
      endpoint('10.0.0.2', 'zone-b', READY),
      endpoint('10.0.0.3', undefined, READY, 'node-c'),
    ]);
    await until('three endpoints', () => subscriber.latest().length === 3);
    expect(subscriber.latest()[2]).toEqual({ address: '10.0.0.3', zone: 'zone-c', health: 'HEALTHY' });
  });

  it('marks a serving, terminating endpoint DRAINING and then removes it', async () => {
    await writeSlice([
      endpoint('10.0.0.1', 'zone-a', READY),
      endpoint('10.0.0.2', 'zone-b', TERMINATING),
      endpoint('10.0.0.3', undefined, READY, 'node-c'),
    ]);
    await until('10.0.0.2 draining', () => subscriber.latest().some((e) => e.health === 'DRAINING'));
    expect(subscriber.latest().find((e) => e.address === '10.0.0.2')?.health).toBe('DRAINING');
    await writeSlice([endpoint('10.0.0.1', 'zone-a', READY), endpoint('10.0.0.3', undefined, READY, 'node-c')]);
    await until('10.0.0.2 removed', () => subscriber.latest().length === 2);
    expect(subscriber.latest().map((e) => e.address)).toEqual(['10.0.0.1', '10.0.0.3']);
  });

  it('keeps serving the last complete set while the API server is down, and follows it after a restart', async () => {
    const before = subscriber.assignments.length;
    await api.stopApiServer();
    // While it is down the control plane stays ready to serve its last view and pushes nothing new.
    const healthz = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    expect(healthz.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await api.restartApiServer();
    await writeSlice([
      endpoint('10.0.0.1', 'zone-a', READY),
      endpoint('10.0.0.3', undefined, READY, 'node-c'),
      endpoint('10.0.0.4', 'zone-b', READY),
    ]);
    await until('10.0.0.4 after the restart', () => subscriber.latest().length === 3, 60_000);
    const duringAndAfter = subscriber.assignments.slice(before);
    // Never an empty or partial set: every assignment since the stop holds at least the two survivors.
    for (const assignment of duringAndAfter) {
      expect(assignment.endpoints.map((e) => e.address)).toEqual(expect.arrayContaining(['10.0.0.1', '10.0.0.3']));
    }
  });

  it('drops the cluster when the Service is deleted', async () => {
    await core.deleteNamespacedService({ name: 'cart', namespace: NS });
    await until('the cluster to disappear from CDS', () => (subscriber.clusters.at(-1)?.length ?? 1) === 0);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/skewless_xds_/);
  });

  it('shuts down on SIGTERM: ends ADS streams with UNAVAILABLE so clients reconnect, then exits 0', async () => {
    const exit = await controlPlane.stop(10_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    const status = await subscriber.streamStatus(5000);
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('skewless control-plane with a kubeconfig it cannot read', () => {
  it('exits 1 naming the file and the reason, without a stack trace', () => {
    const missing = path.join(mkdtempSync(path.join(tmpdir(), 'skewless-cp-')), 'nope.yaml');
    const result = spawnSync(
      path.join(repoRoot, 'node_modules/.bin/node'),
      [path.join(repoRoot, 'cli/src/main.ts'), 'control-plane', `--kubeconfig=${missing}`, '--log-level=silent'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      `skewless control-plane: could not start: kubeconfig ${missing}: ENOENT: no such file or directory, open '${missing}'`,
    );
    rmSync(path.dirname(missing), { recursive: true, force: true });
  });
});
