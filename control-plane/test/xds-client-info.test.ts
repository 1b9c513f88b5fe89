/** Reading a client's identity and zone from its xDS node, and resolving a zoneless client's zone. */
import type { Node__Output } from '@skewless/shared';
import { describe, expect, it } from 'vitest';
import { KubeIndex } from '../src/kube-index.ts';
import { type ClientIdentity, readClientInfo, resolveZoneAgain } from '../src/xds-client-info.ts';

function node(id: string, zone: string, metadata: Record<string, string | boolean> = {}): Node__Output {
  const fields = Object.fromEntries(
    Object.entries(metadata).map(([k, v]) =>
      typeof v === 'string' ? [k, { kind: 'stringValue', stringValue: v }] : [k, { kind: 'boolValue', boolValue: v }],
    ),
  );
  return {
    id,
    cluster: '',
    locality: { region: '', zone, sub_zone: '' },
    metadata: { fields },
  } as unknown as Node__Output;
}

describe('client zone', () => {
  it('believes the locality zone and never asks the resolver then', () => {
    const asked: ClientIdentity[] = [];
    const info = readClientInfo(node('shop/web-1', 'zone-a', { 'skewless.zone_priority': true }), false, (c) => {
      asked.push(c);
      return 'zone-b';
    });
    expect([info.zone, info.zoneSource, info.variant]).toEqual(['zone-a', 'locality', { callerZone: 'zone-a' }]);
    expect(asked).toEqual([]);
    expect(resolveZoneAgain(info, () => 'zone-b')).toBeUndefined();
  });

  it.each([
    ['POD_NAME / POD_NAMESPACE metadata', node('anything', '', { POD_NAME: 'web-1', POD_NAMESPACE: 'shop' })],
    ['a node.id of the form <namespace>/<pod>', node('shop/web-1', '')],
  ])('resolves an empty locality from %s, used exactly like a locality zone', (_, n) => {
    const asked: ClientIdentity[] = [];
    const info = readClientInfo(n, false, (c) => {
      asked.push(c);
      return c.podNamespace === 'shop' && c.podName === 'web-1' ? 'zone-c' : undefined;
    });
    expect(asked).toHaveLength(1);
    expect([info.zone, info.zoneSource]).toEqual(['zone-c', 'resolved']);
    // No variant without zone priority; the zone still counts for the fleet shares.
    expect(info.variant).toEqual({});
    const prioritized = readClientInfo(n, true, () => 'zone-c');
    expect(prioritized.variant).toEqual({ callerZone: 'zone-c' });
  });

  it('passes only the node.id when no pod identity can be read', () => {
    const asked: ClientIdentity[] = [];
    const info = readClientInfo(node('host-1234', ''), true, (c) => {
      asked.push(c);
      return undefined;
    });
    expect(asked).toEqual([{ nodeId: 'host-1234' }]);
    expect([info.zone, info.zoneSource, info.variant]).toEqual(['', 'unknown', {}]);
  });

  it('resolves again later: unknown at first, known once discovery has the Pod', () => {
    let zone: string | undefined;
    const resolve = () => zone;
    const first = readClientInfo(node('shop/web-1', ''), true, resolve);
    expect(first.zoneSource).toBe('unknown');
    expect(resolveZoneAgain(first, resolve)).toBeUndefined();
    zone = 'zone-a';
    const later = resolveZoneAgain(first, resolve);
    expect([later?.zone, later?.zoneSource, later?.variant]).toEqual(['zone-a', 'resolved', { callerZone: 'zone-a' }]);
  });
});

describe('KubeIndex.zoneOfPod', () => {
  const pod = (name: string, nodeName?: string) => ({
    metadata: { name, namespace: 'shop' },
    ...(nodeName ? { spec: { nodeName, containers: [] } } : {}),
  });
  const nodeObject = (name: string, zone: string) => ({
    metadata: { name, labels: { 'topology.kubernetes.io/zone': zone } },
  });

  it('follows Pod → spec.nodeName → Node zone label, and says when the answer may have changed', () => {
    const index = new KubeIndex();
    expect(index.pod('add', pod('web-1'))).toBe(false); // not scheduled yet
    expect(index.zoneOfPod('shop', 'web-1')).toBeUndefined();
    expect(index.pod('update', pod('web-1', 'node-a'))).toBe(true);
    expect(index.zoneOfPod('shop', 'web-1')).toBeUndefined(); // Node not listed yet
    expect(index.node('add', nodeObject('node-a', 'zone-a'))).toBe(true);
    expect(index.zoneOfPod('shop', 'web-1')).toBe('zone-a');
    expect(index.pod('update', pod('web-1', 'node-a'))).toBe(false);
    expect(index.zoneOfPod('other', 'web-1')).toBeUndefined();
    expect(index.pod('delete', pod('web-1', 'node-a'))).toBe(true);
    expect(index.zoneOfPod('shop', 'web-1')).toBeUndefined();
  });
});
