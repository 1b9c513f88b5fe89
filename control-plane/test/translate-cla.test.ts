import { type ClusterLoadAssignment, decodeMessage, encodeMessage, fromProtoStruct, TYPE_URL } from '@skewless/shared';
import { describe, expect, it } from 'vitest';
import type { EndpointRecord, ServicePortEndpoints } from '../src/model.ts';
import { toClusterLoadAssignment, validateClusterLoadAssignment } from '../src/translate-cla.ts';

function ep(address: string, zone: string, extra: Partial<EndpointRecord> = {}): EndpointRecord {
  return { address, port: 8080, health: 'HEALTHY', zone, weight: 1, ...extra };
}

function svc(endpoints: EndpointRecord[]): ServicePortEndpoints {
  return {
    key: { namespace: 'default', service: 'echo', port: 'grpc' },
    name: 'default/echo:grpc',
    servicePort: 50051,
    endpoints,
  };
}

/** A compact view of a CLA: per locality, zone/priority/weight and endpoint address/health/weight. */
function shape(cla: ClusterLoadAssignment) {
  return (cla.endpoints ?? []).map((l) => ({
    zone: l.locality?.zone,
    priority: l.priority,
    weight: l.load_balancing_weight?.value,
    endpoints: (l.lb_endpoints ?? []).map(
      (e) =>
        `${e.endpoint?.address?.socket_address?.address}:${e.endpoint?.address?.socket_address?.port_value} ${e.health_status} w${e.load_balancing_weight?.value}`,
    ),
  }));
}

describe('toClusterLoadAssignment', () => {
  const cases: {
    name: string;
    endpoints: EndpointRecord[];
    callerZone?: string;
    expected: ReturnType<typeof shape>;
  }[] = [
    {
      name: 'groups endpoints into one weighted locality per zone, sorted by zone then address',
      endpoints: [ep('10.0.0.3', 'zone-b'), ep('10.0.0.2', 'zone-a'), ep('10.0.0.1', 'zone-a')],
      expected: [
        { zone: 'zone-a', priority: 0, weight: 2, endpoints: ['10.0.0.1:8080 HEALTHY w1', '10.0.0.2:8080 HEALTHY w1'] },
        { zone: 'zone-b', priority: 0, weight: 1, endpoints: ['10.0.0.3:8080 HEALTHY w1'] },
      ],
    },
    {
      name: 'keeps endpoints without a zone in their own locality with the empty zone',
      endpoints: [ep('10.0.0.1', ''), ep('10.0.0.2', 'zone-a')],
      expected: [
        { zone: '', priority: 0, weight: 1, endpoints: ['10.0.0.1:8080 HEALTHY w1'] },
        { zone: 'zone-a', priority: 0, weight: 1, endpoints: ['10.0.0.2:8080 HEALTHY w1'] },
      ],
    },
    {
      name: 'weights a locality by the sum of its healthy endpoint weights only',
      endpoints: [
        ep('10.0.0.1', 'zone-a', { weight: 3 }),
        ep('10.0.0.2', 'zone-a', { weight: 5, health: 'DRAINING' }),
        ep('10.0.0.3', 'zone-a', { weight: 7, health: 'UNHEALTHY' }),
      ],
      expected: [
        {
          zone: 'zone-a',
          priority: 0,
          weight: 3,
          endpoints: ['10.0.0.1:8080 HEALTHY w3', '10.0.0.2:8080 DRAINING w5', '10.0.0.3:8080 UNHEALTHY w7'],
        },
      ],
    },
    {
      name: 'gives an all-draining locality weight 1 so gRPC does not drop it',
      endpoints: [ep('10.0.0.1', 'zone-a', { health: 'DRAINING' }), ep('10.0.0.2', 'zone-b')],
      expected: [
        { zone: 'zone-a', priority: 0, weight: 1, endpoints: ['10.0.0.1:8080 DRAINING w1'] },
        { zone: 'zone-b', priority: 0, weight: 1, endpoints: ['10.0.0.2:8080 HEALTHY w1'] },
      ],
    },
    {
      name: 'serves IPv6 endpoints as bare IP literals',
      endpoints: [ep('fd00::2', 'zone-a'), ep('fd00::1', 'zone-a', { port: 9090 })],
      expected: [
        { zone: 'zone-a', priority: 0, weight: 2, endpoints: ['fd00::1:9090 HEALTHY w1', 'fd00::2:8080 HEALTHY w1'] },
      ],
    },
    {
      name: "puts the caller's zone at priority 0 and every other zone at priority 1",
      endpoints: [ep('10.0.0.1', 'zone-a'), ep('10.0.0.2', 'zone-b'), ep('10.0.0.3', 'zone-c'), ep('10.0.0.4', '')],
      callerZone: 'zone-b',
      expected: [
        { zone: 'zone-b', priority: 0, weight: 1, endpoints: ['10.0.0.2:8080 HEALTHY w1'] },
        { zone: '', priority: 1, weight: 1, endpoints: ['10.0.0.4:8080 HEALTHY w1'] },
        { zone: 'zone-a', priority: 1, weight: 1, endpoints: ['10.0.0.1:8080 HEALTHY w1'] },
        { zone: 'zone-c', priority: 1, weight: 1, endpoints: ['10.0.0.3:8080 HEALTHY w1'] },
      ],
    },
    {
      name: "leaves everything at priority 0 when the caller's zone has no endpoints (no priority gap)",
      endpoints: [ep('10.0.0.1', 'zone-a'), ep('10.0.0.2', 'zone-b')],
      callerZone: 'zone-x',
      expected: [
        { zone: 'zone-a', priority: 0, weight: 1, endpoints: ['10.0.0.1:8080 HEALTHY w1'] },
        { zone: 'zone-b', priority: 0, weight: 1, endpoints: ['10.0.0.2:8080 HEALTHY w1'] },
      ],
    },
    { name: 'serves a service without endpoints as an empty assignment', endpoints: [], expected: [] },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const cla = toClusterLoadAssignment(
        svc(c.endpoints),
        c.callerZone === undefined ? {} : { callerZone: c.callerZone },
      );
      expect(cla.cluster_name).toBe('default/echo:grpc');
      expect(shape(cla)).toEqual(c.expected);
      expect(validateClusterLoadAssignment(cla)).toEqual([]);
    });
  }

  it('carries pod, namespace, node, zone and shard under the skewless filter metadata', () => {
    const cla = toClusterLoadAssignment(
      svc([ep('10.0.0.1', 'zone-a', { pod: 'echo-1', podNamespace: 'default', node: 'node-a', shard: 's1' })]),
    );
    // Through the wire, as a client sees it.
    const decoded = decodeMessage<ClusterLoadAssignment>(
      TYPE_URL.clusterLoadAssignment,
      encodeMessage(TYPE_URL.clusterLoadAssignment, cla),
    );
    const struct = decoded.endpoints?.[0]?.lb_endpoints?.[0]?.metadata?.filter_metadata?.skewless;
    expect(fromProtoStruct(struct as never)).toEqual({
      pod: 'echo-1',
      namespace: 'default',
      node: 'node-a',
      zone: 'zone-a',
      shard: 's1',
    });
  });

  it('encodes equal inputs to equal bytes regardless of endpoint order', () => {
    const a = svc([ep('10.0.0.1', 'zone-a'), ep('10.0.0.2', 'zone-b'), ep('10.0.0.3', 'zone-a')]);
    const b = svc([ep('10.0.0.3', 'zone-a'), ep('10.0.0.2', 'zone-b'), ep('10.0.0.1', 'zone-a')]);
    const bytes = (s: ServicePortEndpoints) =>
      encodeMessage(TYPE_URL.clusterLoadAssignment, toClusterLoadAssignment(s));
    expect(bytes(a).equals(bytes(b))).toBe(true);
  });
});

describe('validateClusterLoadAssignment', () => {
  const socket = (address: string, port = 8080) => ({
    endpoint: { address: { socket_address: { address, port_value: port } } },
  });
  const locality = (zone: string, priority: number, addresses: string[], weight: number | null = 1) => ({
    locality: { zone },
    priority,
    ...(weight === null ? {} : { load_balancing_weight: { value: weight } }),
    lb_endpoints: addresses.map((a) => socket(a)),
  });

  const cases: { name: string; cla: ClusterLoadAssignment; problems: { path: string; message: RegExp }[] }[] = [
    {
      name: 'a locality without load_balancing_weight',
      cla: { cluster_name: 'c', endpoints: [locality('a', 0, ['10.0.0.1'], null)] },
      problems: [{ path: 'endpoints[0].load_balancing_weight', message: /missing/ }],
    },
    {
      name: 'a locality with weight 0',
      cla: { cluster_name: 'c', endpoints: [locality('a', 0, ['10.0.0.1'], 0)] },
      problems: [{ path: 'endpoints[0].load_balancing_weight', message: /0/ }],
    },
    {
      name: 'a hostname instead of an IP literal',
      cla: { cluster_name: 'c', endpoints: [locality('a', 0, ['echo.default.svc'])] },
      problems: [
        { path: 'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address', message: /not an IP literal/ },
      ],
    },
    {
      name: 'a port out of range',
      cla: { cluster_name: 'c', endpoints: [{ ...locality('a', 0, []), lb_endpoints: [socket('10.0.0.1', 0)] }] },
      problems: [
        { path: 'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value', message: /not a port/ },
      ],
    },
    {
      name: 'the same address twice across localities, IPv6 spelled two ways',
      cla: { cluster_name: 'c', endpoints: [locality('a', 0, ['fd00::1']), locality('b', 0, ['fd00:0::1'])] },
      problems: [{ path: 'endpoints[1].lb_endpoints[0].endpoint.address', message: /duplicate address \[?fd00::1/ }],
    },
    {
      name: 'the same locality twice at one priority',
      cla: { cluster_name: 'c', endpoints: [locality('a', 0, ['10.0.0.1']), locality('a', 0, ['10.0.0.2'])] },
      problems: [{ path: 'endpoints[1].locality', message: /same locality and priority as endpoints\[0\]/ }],
    },
    {
      name: 'a gap in priorities',
      cla: { cluster_name: 'c', endpoints: [locality('a', 0, ['10.0.0.1']), locality('b', 2, ['10.0.0.2'])] },
      problems: [{ path: 'endpoints', message: /priority gap/ }],
    },
    {
      name: 'no priority 0 at all',
      cla: { cluster_name: 'c', endpoints: [locality('a', 1, ['10.0.0.1'])] },
      problems: [{ path: 'endpoints', message: /priority gap/ }],
    },
    {
      name: 'an empty cluster name',
      cla: { cluster_name: '', endpoints: [] },
      problems: [{ path: 'cluster_name', message: /empty/ }],
    },
  ];

  for (const c of cases) {
    it(`reports ${c.name}`, () => {
      const problems = validateClusterLoadAssignment(c.cla);
      expect(problems).toHaveLength(c.problems.length);
      c.problems.forEach((expected, i) => {
        expect(problems[i]?.path).toBe(expected.path);
        expect(problems[i]?.message).toMatch(expected.message);
      });
    });
  }

  it('reports every problem at once, each with its path', () => {
    const problems = validateClusterLoadAssignment({
      cluster_name: 'c',
      endpoints: [locality('a', 0, ['host-a', '10.0.0.1'], null), locality('b', 2, ['10.0.0.1'])],
    });
    expect(problems.map((p) => p.path)).toEqual([
      'endpoints[0].load_balancing_weight',
      'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address',
      'endpoints[1].lb_endpoints[0].endpoint.address',
      'endpoints',
    ]);
  });
});
