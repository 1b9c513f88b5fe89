import {
  type Any,
  type ClusterLoadAssignment__Output,
  decodeMessage,
  type Listener__Output,
  TYPE_URL,
  type TypeUrl,
} from '@skewless/shared';
import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it } from 'vitest';
import { XdsMetrics } from '../src/metrics.ts';
import type { EndpointRecord, ServicePortEndpoints } from '../src/model.ts';
import { type CacheChange, XdsCache } from '../src/xds-cache.ts';
import { captureLogger } from './support/capture-logger.ts';
import { FakeScheduler } from './support/fake-scheduler.ts';

const WINDOW_MS = 20;

function service(name: string, addresses: string[], zones: string[] = ['zone-a']): ServicePortEndpoints {
  const [namespace = '', rest = ''] = name.split('/');
  const [svc = '', port = ''] = rest.split(':');
  const endpoints: EndpointRecord[] = addresses.map((address, i) => ({
    address,
    port: 8080,
    health: 'HEALTHY',
    zone: zones[i % zones.length] ?? '',
    weight: 1,
  }));
  return { key: { namespace, service: svc, port }, name, servicePort: 8080, endpoints };
}

function decode<T>(typeUrl: TypeUrl, any: Any | undefined): T {
  if (!any || !('value' in any)) throw new Error('no resource');
  return decodeMessage<T>(typeUrl, any.value as Buffer);
}

describe('XdsCache', () => {
  let scheduler: FakeScheduler;
  let log: ReturnType<typeof captureLogger>;
  let cache: XdsCache;
  let changes: CacheChange[];

  beforeEach(() => {
    scheduler = new FakeScheduler();
    log = captureLogger();
    cache = new XdsCache({ logger: log.logger, batchWindowMs: WINDOW_MS, versionPrefix: 'p1', scheduler });
    changes = [];
    cache.watch((change) => changes.push(change));
  });

  it('serves nothing before the first endpoint view, and publishes it only after the batching window', () => {
    expect(cache.ready()).toBe(false);
    cache.replaceAll([service('default/echo:grpc', ['10.0.0.1'])]);
    expect(cache.ready()).toBe(false);
    expect(changes).toHaveLength(0);
    scheduler.advance(WINDOW_MS - 1);
    expect(cache.ready()).toBe(false);
    scheduler.advance(1);
    expect(cache.ready()).toBe(true);
    expect(changes).toHaveLength(1);
    expect(cache.get(TYPE_URL.clusterLoadAssignment, 'default/echo:grpc')?.version).toBe('p1-1');
  });

  it('becomes ready on an empty first view, so clients learn that nothing exists', () => {
    cache.replaceAll([]);
    scheduler.advance(WINDOW_MS);
    expect(cache.ready()).toBe(true);
    expect(cache.typeVersion(TYPE_URL.cluster)).toBe('p1-1');
    expect(cache.wildcardNames(TYPE_URL.cluster)).toEqual([]);
  });

  it('bumps the version of exactly the resources that changed, with strictly increasing versions', () => {
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1']), service('default/b:grpc', ['10.0.0.2'])]);
    scheduler.advance(WINDOW_MS);
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1', '10.0.0.3']), service('default/b:grpc', ['10.0.0.2'])]);
    scheduler.advance(WINDOW_MS);

    expect(changes.map((c) => c.version)).toEqual(['p1-1', 'p1-2']);
    expect(changes[1]?.changed).toEqual(new Map([[TYPE_URL.clusterLoadAssignment, new Set(['default/a:grpc'])]]));
    expect(cache.get(TYPE_URL.clusterLoadAssignment, 'default/a:grpc')?.version).toBe('p1-2');
    expect(cache.get(TYPE_URL.clusterLoadAssignment, 'default/b:grpc')?.version).toBe('p1-1');
    // Clusters and listeners do not depend on endpoints: untouched.
    expect(cache.get(TYPE_URL.cluster, 'default/a:grpc')?.version).toBe('p1-1');
    expect(cache.typeVersion(TYPE_URL.clusterLoadAssignment)).toBe('p1-2');
    expect(cache.typeVersion(TYPE_URL.cluster)).toBe('p1-1');
  });

  it('suppresses an update equal to the current state: no new version, no notification', () => {
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1', '10.0.0.2'])]);
    scheduler.advance(WINDOW_MS);
    const before = cache.get(TYPE_URL.clusterLoadAssignment, 'default/a:grpc');
    // A new but equal view, as a relist produces.
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1', '10.0.0.2'])]);
    scheduler.advance(WINDOW_MS);
    expect(changes).toHaveLength(1);
    expect(cache.get(TYPE_URL.clusterLoadAssignment, 'default/a:grpc')).toBe(before);
  });

  it('coalesces a burst within the window into one version carrying the last view', () => {
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1'])]);
    scheduler.advance(WINDOW_MS);
    for (let i = 2; i <= 11; i += 1) {
      cache.replaceAll([
        service(
          'default/a:grpc',
          Array.from({ length: i }, (_, j) => `10.0.0.${j + 1}`),
        ),
      ]);
      scheduler.advance(1);
    }
    scheduler.advance(WINDOW_MS);
    expect(changes.map((c) => c.version)).toEqual(['p1-1', 'p1-2']);
    const cla = decode<ClusterLoadAssignment__Output>(
      TYPE_URL.clusterLoadAssignment,
      cache.get(TYPE_URL.clusterLoadAssignment, 'default/a:grpc')?.any,
    );
    expect(cla.endpoints[0]?.lb_endpoints).toHaveLength(11);
    // Latency is measured from the first input of the burst.
    expect(changes[1]?.acceptedAtMs).toBe(WINDOW_MS);
  });

  it('does not extend the window for later inputs, so a steady trickle still gets published', () => {
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1'])]);
    scheduler.advance(WINDOW_MS - 5);
    cache.replaceAll([service('default/a:grpc', ['10.0.0.2'])]);
    scheduler.advance(5);
    expect(changes).toHaveLength(1);
  });

  it('reports a removed service as changed and stops serving it', () => {
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1']), service('default/b:grpc', ['10.0.0.2'])]);
    scheduler.advance(WINDOW_MS);
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1'])]);
    scheduler.advance(WINDOW_MS);
    for (const typeUrl of [TYPE_URL.listener, TYPE_URL.cluster, TYPE_URL.clusterLoadAssignment]) {
      expect(cache.get(typeUrl, 'default/b:grpc')).toBeUndefined();
    }
    expect(changes[1]?.changed.get(TYPE_URL.cluster)).toEqual(new Set(['default/b:grpc']));
    expect(changes[1]?.changed.get(TYPE_URL.clusterLoadAssignment)).toEqual(new Set(['default/b:grpc']));
    // The proxyless Listener goes with both its names: the service key and the DNS-style alias.
    const alias = 'b.default.svc.cluster.local:8080';
    expect(changes[1]?.changed.get(TYPE_URL.listener)).toEqual(new Set(['default/b:grpc', alias]));
    expect(cache.get(TYPE_URL.listener, alias)).toBeUndefined();
    expect(cache.wildcardNames(TYPE_URL.cluster)).toEqual(['default/a:grpc']);
  });

  it('never reuses a version across instances (a restarted server gets a new prefix)', () => {
    const other = new XdsCache({ logger: log.logger, batchWindowMs: WINDOW_MS, scheduler });
    const again = new XdsCache({ logger: log.logger, batchWindowMs: WINDOW_MS, scheduler });
    for (const c of [other, again]) c.replaceAll([service('default/a:grpc', ['10.0.0.1'])]);
    scheduler.advance(WINDOW_MS);
    const v1 = other.typeVersion(TYPE_URL.cluster);
    const v2 = again.typeVersion(TYPE_URL.cluster);
    expect(v1).toMatch(/^[0-9a-z]+-1$/);
    expect(v2).toMatch(/^[0-9a-z]+-1$/);
    expect(v1).not.toBe(v2);
  });

  it('offers Envoy ingress and clusters to wildcard subscribers but not the gRPC api_listeners', () => {
    const withIngress = new XdsCache({
      logger: log.logger,
      batchWindowMs: WINDOW_MS,
      scheduler,
      ingress: { port: 10000, routes: [{ service: 'default/a:grpc', match: { grpcService: 'echo.Echo' } }] },
    });
    withIngress.replaceAll([service('default/a:grpc', ['10.0.0.1']), service('default/b:grpc', ['10.0.0.2'])]);
    scheduler.advance(WINDOW_MS);
    expect(withIngress.wildcardNames(TYPE_URL.listener)).toEqual(['ingress']);
    expect(withIngress.wildcardNames(TYPE_URL.cluster)).toEqual(['default/a:grpc', 'default/b:grpc']);
    expect(withIngress.get(TYPE_URL.listener, 'default/a:grpc')).toBeDefined();
    expect(withIngress.get(TYPE_URL.routeConfiguration, 'ingress')).toBeDefined();
  });

  it('encodes each resource once per version: every reader gets the same encoded Any', () => {
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1'])]);
    scheduler.advance(WINDOW_MS);
    const first = cache.get(TYPE_URL.clusterLoadAssignment, 'default/a:grpc');
    expect(cache.get(TYPE_URL.clusterLoadAssignment, 'default/a:grpc')?.any).toBe(first?.any);
  });

  it("computes a caller-zone variant once per version and zone, with the caller's zone at priority 0", () => {
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1', '10.0.0.2', '10.0.0.3'], ['zone-a', 'zone-b', 'zone-c'])]);
    scheduler.advance(WINDOW_MS);
    const name = 'default/a:grpc';
    const b1 = cache.get(TYPE_URL.clusterLoadAssignment, name, { callerZone: 'zone-b' });
    const b2 = cache.get(TYPE_URL.clusterLoadAssignment, name, { callerZone: 'zone-b' });
    const c1 = cache.get(TYPE_URL.clusterLoadAssignment, name, { callerZone: 'zone-c' });
    expect(b2?.any).toBe(b1?.any);
    expect(c1?.any).not.toBe(b1?.any);
    const cla = decode<ClusterLoadAssignment__Output>(TYPE_URL.clusterLoadAssignment, b1?.any);
    expect(cla.endpoints.map((l) => [l.locality?.zone, l.priority])).toEqual([
      ['zone-b', 0],
      ['zone-a', 1],
      ['zone-c', 1],
    ]);
    // A zone without endpoints shares the all-priority-0 assignment.
    expect(cache.get(TYPE_URL.clusterLoadAssignment, name, { callerZone: 'zone-x' })).toBe(
      cache.get(TYPE_URL.clusterLoadAssignment, name),
    );

    cache.replaceAll([service('default/a:grpc', ['10.0.0.1', '10.0.0.2', '10.0.0.4'], ['zone-a', 'zone-b', 'zone-c'])]);
    scheduler.advance(WINDOW_MS);
    const b3 = cache.get(TYPE_URL.clusterLoadAssignment, name, { callerZone: 'zone-b' });
    expect(b3?.version).toBe('p1-2');
    expect(b3?.any).not.toBe(b1?.any);
  });

  it('keeps the last good assignment and logs every problem, once, when an update would be invalid', () => {
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1'])]);
    scheduler.advance(WINDOW_MS);
    const good = cache.get(TYPE_URL.clusterLoadAssignment, 'default/a:grpc');
    cache.replaceAll([service('default/a:grpc', ['echo.internal', '10.0.0.1'])]);
    scheduler.advance(WINDOW_MS);
    expect(cache.get(TYPE_URL.clusterLoadAssignment, 'default/a:grpc')).toBe(good);
    // The same invalid view again is not translated again, so not reported again.
    cache.replaceAll([service('default/a:grpc', ['echo.internal', '10.0.0.1'])]);
    scheduler.advance(WINDOW_MS);
    expect(log.matching(/invalid ClusterLoadAssignment/)).toHaveLength(1);
    const [line] = log.matching(/invalid ClusterLoadAssignment/);
    expect(line?.problems).toEqual([
      {
        path: 'endpoints[0].lb_endpoints[1].endpoint.address.socket_address.address',
        message: '"echo.internal" is not an IP literal',
      },
    ]);
  });

  it('lets a test override one resource and restores it when the override is removed', () => {
    cache.replaceAll([service('default/a:grpc', ['10.0.0.1'])]);
    scheduler.advance(WINDOW_MS);
    cache.setTestOverride(TYPE_URL.listener, 'default/a:grpc', { name: 'default/a:grpc' });
    scheduler.advance(WINDOW_MS);
    const overridden = decode<Listener__Output>(TYPE_URL.listener, cache.get(TYPE_URL.listener, 'default/a:grpc')?.any);
    expect(overridden.api_listener).toBeNull();
    cache.setTestOverride(TYPE_URL.listener, 'default/a:grpc', undefined);
    scheduler.advance(WINDOW_MS);
    const restored = decode<Listener__Output>(TYPE_URL.listener, cache.get(TYPE_URL.listener, 'default/a:grpc')?.any);
    expect(restored.api_listener).not.toBeNull();
    expect(changes.map((c) => c.version)).toEqual(['p1-1', 'p1-2', 'p1-3']);
  });

  it('publishes endpoint and resource counts to its metrics', async () => {
    const registry = new Registry();
    const metered = new XdsCache({
      logger: log.logger,
      batchWindowMs: WINDOW_MS,
      scheduler,
      metrics: new XdsMetrics(registry),
    });
    const s = service('default/a:grpc', ['10.0.0.1', '10.0.0.2']);
    metered.replaceAll([{ ...s, endpoints: [s.endpoints[0]!, { ...s.endpoints[1]!, health: 'DRAINING' }] }]);
    scheduler.advance(WINDOW_MS);
    const text = await registry.metrics();
    expect(text).toContain('skewless_xds_cluster_endpoints{cluster="default/a:grpc",health="HEALTHY"} 1');
    expect(text).toContain('skewless_xds_cluster_endpoints{cluster="default/a:grpc",health="DRAINING"} 1');
    expect(text).toContain('skewless_xds_resources{type="eds"} 1');
  });
});
