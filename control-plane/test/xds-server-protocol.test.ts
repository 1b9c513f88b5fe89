import * as grpc from '@grpc/grpc-js';
import {
  type Any__Output,
  type Cluster__Output,
  type ClusterLoadAssignment__Output,
  type DiscoveryResponse__Output,
  decodeMessage,
  type Listener__Output,
  TYPE_URL,
  type TypeUrl,
} from '@skewless/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ZONE_PRIORITY_METADATA_KEY } from '../src/xds-client-info.ts';
import { DeltaTestClient, eventually, rawAdsStream, SotwTestClient, testNode } from './support/ads-test-client.ts';
import { service } from './support/services.ts';
import { startTestXds, type TestXds } from './support/xds-fixture.ts';

const A = 'default/a:grpc';
const B = 'default/b:grpc';
const C = 'default/c:grpc';

function names(response: { resources: Any__Output[] }, typeUrl: TypeUrl): string[] {
  return response.resources.map((any) => {
    if (!('value' in any)) throw new Error('unexpected Any');
    const message = decodeMessage<{ name?: string; cluster_name?: string }>(typeUrl, any.value);
    return message.name ?? message.cluster_name ?? '';
  });
}

function decodeCla(any: Any__Output | null | undefined): ClusterLoadAssignment__Output {
  if (!any || !('value' in any)) throw new Error('no CLA');
  return decodeMessage<ClusterLoadAssignment__Output>(TYPE_URL.clusterLoadAssignment, any.value);
}

function addresses(response: DiscoveryResponse__Output, index = 0): string[] {
  const cla = decodeCla(response.resources[index]);
  return cla.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint?.address?.socket_address?.address ?? ''));
}

describe('ADS server, state of the world', () => {
  let xds: TestXds;
  const clients: { close(): void }[] = [];
  const sotw = (id: string, zone = '', metadata: Record<string, boolean> = {}) => {
    const client = new SotwTestClient(xds.port, testNode(id, zone, metadata));
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    xds = await startTestXds({
      ingress: { port: 10000, routes: [{ service: A, match: { grpcService: 'echo.Echo' } }] },
    });
    xds.cache.replaceAll([service(A, ['10.0.0.1']), service(B, ['10.0.0.2'])]);
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await xds.close();
  });

  it('answers a wildcard CDS request with every cluster and sends nothing more for an ACK', async () => {
    const client = sotw('envoy-1');
    client.send({ type_url: TYPE_URL.cluster, resource_names: [] });
    const cds = await client.next('CDS');
    expect(cds.type_url).toBe(TYPE_URL.cluster);
    expect(names(cds, TYPE_URL.cluster)).toEqual([A, B]);
    expect(cds.version_info).not.toBe('');
    client.ack(cds);
    // Subscribe EDS on the same stream and change only endpoints: the next response must be EDS.
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A] });
    const eds = await client.next('EDS');
    client.ack(eds, [A]);
    xds.cache.replaceAll([service(A, ['10.0.0.1', '10.0.0.3']), service(B, ['10.0.0.2'])]);
    const push = await client.next('EDS push');
    expect(push.type_url).toBe(TYPE_URL.clusterLoadAssignment);
    expect(addresses(push)).toEqual(['10.0.0.1', '10.0.0.3']);
  });

  it('waits for the first endpoint view before answering, instead of serving an empty set', async () => {
    const empty = await startTestXds();
    try {
      const client = new SotwTestClient(empty.port, testNode('early'));
      clients.push(client);
      client.send({ type_url: TYPE_URL.cluster, resource_names: [] });
      // The request is in; nothing is owed yet. Publishing the first view must produce the answer.
      await eventually(() => expect(empty.log.matching(/xds client connected/)).toHaveLength(1));
      expect(client.pending()).toHaveLength(0);
      empty.cache.replaceAll([service(C, ['10.0.0.9'])]);
      expect(names(await client.next('CDS'), TYPE_URL.cluster)).toEqual([C]);
    } finally {
      await empty.close();
    }
  });

  it('serves named EDS resources only, skipping absent names without error', async () => {
    const client = sotw('grpc-1');
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [B, 'default/missing:grpc'] });
    const eds = await client.next('EDS');
    expect(names(eds, TYPE_URL.clusterLoadAssignment)).toEqual([B]);
  });

  it('pushes an endpoint change only to the clients subscribed to that resource', async () => {
    const onA = sotw('client-a');
    const onB = sotw('client-b');
    onA.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A] });
    onB.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [B] });
    onA.ack(await onA.next(), [A]);
    onB.ack(await onB.next(), [B]);

    xds.cache.replaceAll([service(A, ['10.0.0.5']), service(B, ['10.0.0.2'])]);
    expect(addresses(await onA.next('push of A'))).toEqual(['10.0.0.5']);
    xds.cache.replaceAll([service(A, ['10.0.0.5']), service(B, ['10.0.0.6'])]);
    // B's first response since its ACK is B's own change: A's change never reached it.
    expect(addresses(await onB.next('push of B'))).toEqual(['10.0.0.6']);
  });

  it('pushes only the changed EDS resources to a client watching several, and all of them when it subscribes anew', async () => {
    const client = sotw('grpc-many');
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A, B] });
    const initial = await client.next('EDS');
    expect(names(initial, TYPE_URL.clusterLoadAssignment)).toEqual([A, B]);
    client.ack(initial, [A, B]);

    xds.cache.replaceAll([service(A, ['10.0.0.1']), service(B, ['10.0.0.9'])]);
    const push = await client.next('EDS push');
    expect(names(push, TYPE_URL.clusterLoadAssignment)).toEqual([B]);
    expect(addresses(push)).toEqual(['10.0.0.9']);

    // A changed subscription is answered with everything it names, changed or not.
    client.send({
      type_url: TYPE_URL.clusterLoadAssignment,
      resource_names: [A, B, C],
      version_info: push.version_info,
      response_nonce: push.nonce,
    });
    const resubscribed = await client.next('EDS after subscribing to one more');
    expect(names(resubscribed, TYPE_URL.clusterLoadAssignment)).toEqual([A, B]);
  });

  it('sends the full set for wildcard CDS, so a removed cluster disappears', async () => {
    const client = sotw('envoy-1');
    client.send({ type_url: TYPE_URL.cluster, resource_names: [] });
    const first = await client.next();
    client.ack(first);
    xds.cache.replaceAll([service(A, ['10.0.0.1'])]);
    const second = await client.next('CDS after removal');
    expect(names(second, TYPE_URL.cluster)).toEqual([A]);
    expect(second.version_info).not.toBe(first.version_info);
  });

  it('gives wildcard LDS the ingress listener but not the gRPC api_listeners, which are served by name', async () => {
    const envoy = sotw('envoy-1');
    envoy.send({ type_url: TYPE_URL.listener, resource_names: [] });
    expect(names(await envoy.next(), TYPE_URL.listener)).toEqual(['ingress']);
    const grpcClient = sotw('grpc-1');
    grpcClient.send({ type_url: TYPE_URL.listener, resource_names: [A] });
    const lds = await grpcClient.next();
    expect(names(lds, TYPE_URL.listener)).toEqual([A]);
    const listener = decodeMessage<Listener__Output>(TYPE_URL.listener, (lds.resources[0] as { value: Buffer }).value);
    expect(listener.api_listener).not.toBeNull();
  });

  it('logs a NACK with type, rejected version, nonce, node and error, and does not resend the rejected version', async () => {
    const client = sotw('grpc-nack');
    client.send({ type_url: TYPE_URL.cluster, resource_names: [A, B] });
    const rejected = await client.next('CDS');
    client.nack(rejected, '', 'cluster default/a:grpc: unsupported lb policy', [A, B]);

    await eventually(() => expect(xds.log.matching(/NACK/)).toHaveLength(1));
    const [line] = xds.log.matching(/NACK/);
    expect(line).toMatchObject({
      level: 40,
      type: 'cds',
      rejectedVersion: rejected.version_info,
      nonce: rejected.nonce,
      nodeId: 'grpc-nack',
      error: 'cluster default/a:grpc: unsupported lb policy',
    });
    expect(await xds.registry.getSingleMetricAsString('skewless_xds_nacks_total')).toContain('type="cds"} 1');

    // A newer version must be the very next CDS response: the rejected one is never sent again.
    xds.cache.replaceAll([service(A, ['10.0.0.1']), service(B, ['10.0.0.2']), service(C, ['10.0.0.3'])]);
    await eventually(() => expect(xds.cache.get(TYPE_URL.cluster, C)).toBeDefined());
    client.send({
      type_url: TYPE_URL.cluster,
      resource_names: [A, B, C],
      version_info: '',
      response_nonce: rejected.nonce,
    });
    const next = await client.next('CDS after NACK');
    expect(next.version_info).not.toBe(rejected.version_info);
    expect(names(next, TYPE_URL.cluster)).toEqual([A, B, C]);
    expect(xds.log.matching(/NACK/)).toHaveLength(1);
  });

  it('answers a NACK with nothing when no newer version exists, and with the newer one as soon as it does', async () => {
    const client = sotw('grpc-nack-2');
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A] });
    const rejected = await client.next('EDS');
    client.nack(rejected, '', 'bad assignment', [A]);
    await eventually(() => expect(xds.log.matching(/NACK/)).toHaveLength(1));
    expect(client.pending()).toHaveLength(0);
    xds.cache.replaceAll([service(A, ['10.0.0.7']), service(B, ['10.0.0.2'])]);
    const next = await client.next('EDS after NACK');
    expect(next.version_info).not.toBe(rejected.version_info);
    expect(addresses(next)).toEqual(['10.0.0.7']);
  });

  it('answers the EDS request that follows a CDS change even when EDS did not change (no stuck warming)', async () => {
    const envoy = sotw('envoy-warming');
    envoy.send({ type_url: TYPE_URL.cluster, resource_names: [] });
    const cds1 = await envoy.next('CDS');
    envoy.ack(cds1);
    envoy.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A, B] });
    const eds1 = await envoy.next('EDS');
    envoy.ack(eds1, [A, B]);

    // A cluster changes (here: its protocol), not its endpoints.
    xds.cache.replaceAll([service(A, ['10.0.0.1'], { appProtocol: 'http' }), service(B, ['10.0.0.2'])]);
    const cds2 = await envoy.next('CDS change');
    expect(cds2.type_url).toBe(TYPE_URL.cluster);
    envoy.ack(cds2);
    // Envoy re-requests EDS for the warming cluster with the same names, version and nonce.
    envoy.send({
      type_url: TYPE_URL.clusterLoadAssignment,
      resource_names: [A, B],
      version_info: eds1.version_info,
      response_nonce: eds1.nonce,
    });
    const eds2 = await envoy.next('EDS answer after CDS');
    expect(eds2.type_url).toBe(TYPE_URL.clusterLoadAssignment);
    expect(eds2.version_info).toBe(eds1.version_info);
    expect(names(eds2, TYPE_URL.clusterLoadAssignment)).toEqual([A, B]);
  });

  it('ignores a request with a stale nonce', async () => {
    const client = sotw('grpc-stale');
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A] });
    const first = await client.next();
    client.ack(first, [A]);
    xds.cache.replaceAll([service(A, ['10.0.0.8']), service(B, ['10.0.0.2'])]);
    const second = await client.next('push');
    // A request still answering the first response asks for B: stale, so ignored ...
    client.send({
      type_url: TYPE_URL.clusterLoadAssignment,
      resource_names: [B],
      response_nonce: first.nonce,
      version_info: first.version_info,
    });
    // ... and the next request, with the latest nonce, is what the next response reflects.
    client.send({
      type_url: TYPE_URL.clusterLoadAssignment,
      resource_names: [A, C],
      response_nonce: second.nonce,
      version_info: second.version_info,
    });
    xds.cache.replaceAll([service(A, ['10.0.0.8']), service(B, ['10.0.0.2']), service(C, ['10.0.0.3'])]);
    const third = await client.next('response to the current request');
    expect(names(third, TYPE_URL.clusterLoadAssignment)).toContain(A);
    expect(names(third, TYPE_URL.clusterLoadAssignment)).not.toContain(B);
    await eventually(() => expect(xds.log.matching(/stale nonce/).length).toBeGreaterThan(0));
  });

  it("answers a reconnecting client's first request that carries a previous server instance's version and nonce", async () => {
    const client = sotw('grpc-restart');
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A] });
    const before = await client.next();
    client.ack(before, [A]);
    client.close();
    await xds.close();

    // A new instance on a new port: fresh versions and nonces. The client resumes where it was.
    xds = await startTestXds();
    xds.cache.replaceAll([service(A, ['10.0.0.7'])]);
    for (const previous of [
      { version_info: before.version_info, response_nonce: before.nonce },
      { version_info: before.version_info, response_nonce: '7', error_detail: { code: 3, message: 'old NACK' } },
    ]) {
      const resumed = sotw('grpc-restart');
      resumed.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A], ...previous });
      const answer = await resumed.next('answer to a resumed subscription');
      expect(answer.version_info).not.toBe(before.version_info);
      expect(addresses(answer)).toEqual(['10.0.0.7']);
      // And the stream goes on as any other: ACK, then pushes.
      resumed.ack(answer, [A]);
      xds.cache.replaceAll([service(A, ['10.0.0.7', '10.0.0.8'])]);
      const push = await resumed.next('push after the resumed subscription');
      expect(addresses(push)).toEqual(['10.0.0.7', '10.0.0.8']);
      resumed.ack(push, [A]);
      xds.cache.replaceAll([service(A, ['10.0.0.7'])]);
      await resumed.next('push back');
    }
  });

  it('logs and ignores an unknown type URL and keeps serving the stream', async () => {
    const client = sotw('envoy-sds');
    client.send({
      type_url: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
      resource_names: ['cert'],
    });
    client.send({ type_url: TYPE_URL.cluster, resource_names: [] });
    const cds = await client.next();
    expect(cds.type_url).toBe(TYPE_URL.cluster);
    const [line] = xds.log.matching(/unknown xDS type URL/);
    expect(line).toMatchObject({
      level: 40,
      typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
    });
  });

  it('closes a stream that sends a frame that is not a DiscoveryRequest, leaving other clients unaffected', async () => {
    const bystander = sotw('bystander');
    bystander.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A] });
    bystander.ack(await bystander.next(), [A]);

    const raw = rawAdsStream(xds.port);
    clients.push(raw);
    // Field 1 with wire type 7 does not exist in protobuf: no decoder accepts it.
    raw.write(Buffer.from([0x0f, 0xff, 0xff, 0xff]));
    const status = await raw.status();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/malformed request/);
    expect(xds.log.matching(/malformed StreamAggregatedResources request/)).toHaveLength(1);

    xds.cache.replaceAll([service(A, ['10.0.0.4']), service(B, ['10.0.0.2'])]);
    expect(addresses(await bystander.next('push after garbage'))).toEqual(['10.0.0.4']);
  });

  it('serves a client that asks for zone priority its own zone at priority 0 and other zones at 1', async () => {
    xds.cache.replaceAll([
      service(A, [
        { address: '10.0.0.1', zone: 'zone-a' },
        { address: '10.0.0.2', zone: 'zone-b' },
      ]),
    ]);
    await eventually(() => expect(xds.cache.get(TYPE_URL.clusterLoadAssignment, A)?.version).not.toBe(''));
    const inB = sotw('grpc-b', 'zone-b', { [ZONE_PRIORITY_METADATA_KEY]: true });
    const plain = sotw('grpc-plain', 'zone-b');
    for (const c of [inB, plain]) c.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A] });
    const priorities = async (c: SotwTestClient) => {
      for (;;) {
        const r = await c.next();
        c.ack(r, [A]);
        const cla = decodeCla(r.resources[0]);
        if (cla.endpoints.length === 2) return cla.endpoints.map((l) => [l.locality?.zone, l.priority]);
      }
    };
    expect(await priorities(inB)).toEqual([
      ['zone-b', 0],
      ['zone-a', 1],
    ]);
    expect(await priorities(plain)).toEqual([
      ['zone-a', 0],
      ['zone-b', 0],
    ]);
  });

  it('counts connected clients and forgets them when they go away', async () => {
    const one = sotw('one');
    const two = new DeltaTestClient(xds.port, testNode('two'));
    clients.push(two);
    one.send({ type_url: TYPE_URL.cluster });
    two.send({ type_url: TYPE_URL.cluster });
    await one.next();
    await two.next();
    expect(xds.ads.connectedClients()).toBe(2);
    expect(await xds.registry.getSingleMetricAsString('skewless_xds_connected_clients')).toMatch(/stream="delta"} 1/);
    one.close();
    await eventually(() => expect(xds.ads.connectedClients()).toBe(1));
  });

  it('records push latency from the accepted change to the response written', async () => {
    const count = async () => {
      const text = await xds.registry.getSingleMetricAsString('skewless_xds_push_latency_seconds');
      return Number(/skewless_xds_push_latency_seconds_count\{type="eds"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const client = sotw('latency');
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names: [A] });
    client.ack(await client.next(), [A]);
    const before = await count();
    xds.cache.replaceAll([service(A, ['10.0.0.9']), service(B, ['10.0.0.2'])]);
    await client.next('push');
    expect(await count()).toBe(before + 1);
  });
});

describe('ADS server, delta', () => {
  let xds: TestXds;
  const clients: { close(): void }[] = [];
  const delta = (id: string) => {
    const client = new DeltaTestClient(xds.port, testNode(id));
    clients.push(client);
    return client;
  };
  const resourceNames = (r: { resources: { name: string }[] }) => r.resources.map((x) => x.name);

  beforeEach(async () => {
    xds = await startTestXds();
    xds.cache.replaceAll([service(A, ['10.0.0.1']), service(B, ['10.0.0.2'])]);
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await xds.close();
  });

  it('sends only what changed as subscriptions grow, and nothing for unsubscribed names', async () => {
    const client = delta('envoy-delta');
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names_subscribe: [A] });
    const first = await client.next();
    expect(resourceNames(first)).toEqual([A]);
    client.ack(first);
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names_subscribe: [B] });
    const second = await client.next();
    expect(resourceNames(second)).toEqual([B]);
    client.ack(second);

    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names_unsubscribe: [A] });
    xds.cache.replaceAll([service(A, ['10.0.0.3']), service(B, ['10.0.0.2'])]);
    xds.cache.replaceAll([service(A, ['10.0.0.3']), service(B, ['10.0.0.4'])]);
    // A changed first, but the client no longer watches it: the next response is B's change.
    const third = await client.next('B change');
    expect(resourceNames(third)).toEqual([B]);
    expect(third.removed_resources).toEqual([]);
  });

  it('reports a deleted resource in removed_resources, for wildcard and named subscriptions', async () => {
    const wildcard = delta('envoy-cds');
    const named = delta('envoy-eds');
    wildcard.send({ type_url: TYPE_URL.cluster });
    named.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names_subscribe: [A, B] });
    const cds = await wildcard.next();
    expect(resourceNames(cds)).toEqual([A, B]);
    wildcard.ack(cds);
    named.ack(await named.next());

    xds.cache.replaceAll([service(A, ['10.0.0.1'])]);
    const cdsRemoval = await wildcard.next('CDS removal');
    expect(cdsRemoval.resources).toEqual([]);
    expect(cdsRemoval.removed_resources).toEqual([B]);
    const edsRemoval = await named.next('EDS removal');
    expect(edsRemoval.removed_resources).toEqual([B]);
  });

  it('sends a reconnecting client only what differs from its initial_resource_versions', async () => {
    const before = delta('envoy-before');
    before.send({ type_url: TYPE_URL.cluster });
    const cds = await before.next();
    const versions = Object.fromEntries(cds.resources.map((r) => [r.name, r.version]));
    before.close();

    xds.cache.replaceAll([service(A, ['10.0.0.1'], { appProtocol: 'http' }), service(C, ['10.0.0.3'])]);
    await eventually(() => expect(xds.cache.get(TYPE_URL.cluster, C)).toBeDefined());
    const after = delta('envoy-after');
    after.send({ type_url: TYPE_URL.cluster, initial_resource_versions: versions });
    const resync = await after.next();
    expect(resourceNames(resync)).toEqual([A, C]);
    expect(resync.removed_resources).toEqual([B]);
  });

  it('logs a delta NACK with the rejected resources and does not resend them', async () => {
    const client = delta('envoy-nack');
    client.send({ type_url: TYPE_URL.cluster });
    const rejected = await client.next();
    client.send({
      type_url: TYPE_URL.cluster,
      response_nonce: rejected.nonce,
      error_detail: { code: 3, message: 'bad cluster' },
    });
    await eventually(() => expect(xds.log.matching(/NACK/)).toHaveLength(1));
    expect(xds.log.matching(/NACK/)[0]).toMatchObject({ type: 'cds', nodeId: 'envoy-nack', error: 'bad cluster' });
    xds.cache.replaceAll([service(A, ['10.0.0.1']), service(B, ['10.0.0.2']), service(C, ['10.0.0.3'])]);
    const next = await client.next('after NACK');
    expect(resourceNames(next)).toEqual([C]);
  });

  it('resends a resource the client subscribes to again', async () => {
    const client = delta('envoy-resub');
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names_subscribe: [A] });
    const first = await client.next();
    client.ack(first);
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names_subscribe: [A] });
    const again = await client.next();
    expect(resourceNames(again)).toEqual([A]);
    expect(again.resources[0]?.version).toBe(first.resources[0]?.version);
  });

  it('resends the assignment of a changed cluster unasked, which a warming Envoy cluster waits for', async () => {
    const client = delta('envoy-warming');
    client.send({ type_url: TYPE_URL.cluster });
    client.ack(await client.next('CDS'));
    client.send({ type_url: TYPE_URL.clusterLoadAssignment, resource_names_subscribe: [A, B] });
    const eds = await client.next('EDS');
    client.ack(eds);

    xds.cache.replaceAll([service(A, ['10.0.0.1'], { appProtocol: 'http' }), service(B, ['10.0.0.2'])]);
    const cds = await client.next('CDS change');
    expect(cds.type_url).toBe(TYPE_URL.cluster);
    expect(resourceNames(cds)).toEqual([A]);
    // No request from the client: the EDS resource of the changed cluster follows by itself.
    const resent = await client.next('EDS resend');
    expect(resent.type_url).toBe(TYPE_URL.clusterLoadAssignment);
    expect(resourceNames(resent)).toEqual([A]);
    expect(resent.resources[0]?.version).toBe(eds.resources.find((r) => r.name === A)?.version);
  });

  it('decodes clusters it sends as EDS-over-ADS clusters', async () => {
    const client = delta('envoy-decode');
    client.send({ type_url: TYPE_URL.cluster, resource_names_subscribe: [A] });
    const response = await client.next();
    const any = response.resources[0]?.resource;
    if (!any || !('value' in any)) throw new Error('no cluster');
    const cluster = decodeMessage<Cluster__Output>(TYPE_URL.cluster, any.value);
    expect(cluster.eds_cluster_config?.service_name).toBe(A);
  });
});
