import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { canonicalIPv4, canonicalIPv6 } from '../src/translate-ip.ts';
import { endpointHealth, translateService, translateSlices } from '../src/translate-slices.ts';
import type { SliceFixture } from './fixtures/slices/slice-fixture.ts';

const dir = join(import.meta.dirname, 'fixtures', 'slices');

async function loadFixtures(): Promise<[string, SliceFixture][]> {
  const rows: [string, SliceFixture][] = [];
  for (const file of readdirSync(dir).sort()) {
    if (file.endsWith('.json')) {
      rows.push([file, JSON.parse(readFileSync(join(dir, file), 'utf8')) as SliceFixture]);
    } else if (file.endsWith('.fixture.ts')) {
      const module = (await import(join(dir, file))) as { fixture: SliceFixture };
      rows.push([file, module.fixture]);
    }
  }
  return rows;
}

const fixtures = await loadFixtures();

function worldOf(fixture: SliceFixture) {
  return {
    services: fixture.services,
    slices: fixture.slices,
    nodeZones: new Map(Object.entries(fixture.nodes)),
    podAnnotations: (namespace: string, name: string) => fixture.pods[`${namespace}/${name}`],
  };
}

describe('translateSlices (fixtures in test/fixtures/slices)', () => {
  it('has the fixture table it is meant to run', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });

  for (const [file, fixture] of fixtures) {
    it(`${fixture.behaviour} [${file}]`, () => {
      const result = translateSlices(worldOf(fixture));
      expect(result.services).toEqual(fixture.expected.services);
      expect(result.problems).toEqual(fixture.expected.problems);
    });

    it(`gives the same output whatever the input order [${file}]`, () => {
      const world = worldOf(fixture);
      const reversed = translateSlices({
        ...world,
        services: [...world.services].reverse(),
        slices: [...world.slices].reverse().map(reverseEndpointsKeepingMeaning),
      });
      expect(JSON.stringify(reversed.services)).toBe(JSON.stringify(translateSlices(world).services));
    });
  }
});

/** Reversing endpoints inside a slice must not change the winner of a duplicate within that slice. */
function reverseEndpointsKeepingMeaning(slice: V1EndpointSlice): V1EndpointSlice {
  const addresses = (slice.endpoints ?? []).map((e) => e.addresses?.[0]);
  const unique = new Set(addresses).size === addresses.length;
  return unique ? { ...slice, endpoints: [...(slice.endpoints ?? [])].reverse() } : slice;
}

describe('translateService', () => {
  const lookups = { nodeZones: new Map<string, string>(), podAnnotations: () => undefined };
  const service: V1Service = {
    metadata: { namespace: 'default', name: 'backend' },
    spec: { ports: [{ name: 'grpc', port: 8080 }] },
  };

  it('never throws on slices missing every optional field', () => {
    const garbage = [
      { addressType: 'IPv4' },
      { addressType: 'IPv4', metadata: {}, ports: [{}], endpoints: [{ addresses: [] }] },
      { addressType: 'IPv6', endpoints: [{ addresses: ['10.0.0.1'], conditions: {} }] },
    ] as V1EndpointSlice[];
    const result = translateService(service, garbage, lookups);
    expect(result.services).toEqual([
      {
        key: { namespace: 'default', service: 'backend', port: 'grpc' },
        name: 'default/backend:grpc',
        servicePort: 8080,
        endpoints: [],
      },
    ]);
    expect(result.problems.map((p) => p.path)).toEqual([
      '/.ports[0].port',
      '/.endpoints[0].addresses',
      '/.endpoints[0].addresses[0]',
    ]);
  });

  it('reports a bad Pod annotation once even when the Pod backs two Service ports', () => {
    const twoPorts: V1Service = {
      metadata: { namespace: 'default', name: 'backend' },
      spec: {
        ports: [
          { name: 'a', port: 1 },
          { name: 'b', port: 2 },
        ],
      },
    };
    const slice: V1EndpointSlice = {
      metadata: { namespace: 'default', name: 's' },
      addressType: 'IPv4',
      ports: [
        { name: 'a', port: 10 },
        { name: 'b', port: 20 },
      ],
      endpoints: [{ addresses: ['10.0.0.1'], targetRef: { kind: 'Pod', name: 'p' } }],
    };
    const result = translateService(twoPorts, [slice], {
      nodeZones: new Map(),
      podAnnotations: () => ({ 'skewless.dev/weight': '-1' }),
    });
    expect(result.services.map((s) => s.endpoints[0]?.weight)).toEqual([1, 1]);
    expect(result.problems).toHaveLength(1);
  });
});

describe('endpointHealth', () => {
  const table: [Parameters<typeof endpointHealth>[0], string][] = [
    [undefined, 'HEALTHY'],
    [{}, 'HEALTHY'],
    [{ ready: true }, 'HEALTHY'],
    [{ ready: false }, 'UNHEALTHY'],
    [{ ready: false, terminating: true }, 'DRAINING'],
    [{ ready: false, serving: true, terminating: true }, 'DRAINING'],
    [{ ready: false, serving: false, terminating: true }, 'UNHEALTHY'],
    [{ ready: false, serving: true, terminating: false }, 'UNHEALTHY'],
  ];
  for (const [conditions, health] of table) {
    it(`maps ${JSON.stringify(conditions)} to ${health}`, () => {
      expect(endpointHealth(conditions)).toBe(health);
    });
  }
});

describe('IP literals', () => {
  const table: [string, string | undefined, string | undefined][] = [
    ['10.0.0.1', '10.0.0.1', undefined],
    ['255.255.255.255', '255.255.255.255', undefined],
    ['256.0.0.1', undefined, undefined],
    ['010.0.0.1', undefined, undefined],
    ['10.0.0', undefined, undefined],
    ['FD00:0:0::0001', undefined, 'fd00::1'],
    ['::', undefined, '::'],
    ['fe80::1%eth0', undefined, undefined],
    ['[fd00::1]', undefined, undefined],
    ['backend.default.svc', undefined, undefined],
  ];
  for (const [text, v4, v6] of table) {
    it(`reads "${text}" as IPv4 ${v4 ?? 'no'} and IPv6 ${v6 ?? 'no'}`, () => {
      expect([canonicalIPv4(text), canonicalIPv6(text)]).toEqual([v4, v6]);
    });
  }
});
