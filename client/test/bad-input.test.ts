/**
 * Bad input gives a clear error that names every problem, and the last good state is kept:
 * invalid targets, unknown strategies and other config mistakes, malformed assignments.
 */
import * as grpc from '@grpc/grpc-js';
import { type ClusterLoadAssignment, type ClusterLoadAssignment__Output, echoGrpc } from '@skewless/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { parseClientConfig } from '../src/config-client.ts';
import { parseAssignment } from '../src/eds-assignment.ts';
import { ConfigError, debugSnapshot, register } from '../src/index.ts';
import { type Backend, SERVICE_NAME, startBackend } from './backends.ts';
import { silentLogger } from './control-plane-fixture.ts';
import { startFakeAdsServer } from './fake-ads-server.ts';
import { drive } from './load-driver.ts';
import { waitFor } from './wait-for.ts';

function cla(
  endpoints: { address: string; port: number; zone?: string }[],
  name = SERVICE_NAME,
): ClusterLoadAssignment {
  return {
    cluster_name: name,
    endpoints: [
      {
        locality: { zone: 'a' },
        load_balancing_weight: { value: 1 },
        lb_endpoints: endpoints.map((e) => ({
          endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
          health_status: 'HEALTHY',
        })),
      },
    ],
  };
}

describe('config errors', () => {
  it('lists every problem with its path, including an unknown strategy', () => {
    let error: unknown;
    try {
      parseClientConfig(
        {
          controlPlane: 'not-an-address',
          defaults: { strategy: 'fastest', slowStart: { windowMs: -1 } },
          services: { 'default/backend:grpc': { zoneAffinity: { minClusterSize: 0 } }, 'Bad Name': {} },
        },
        {},
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('controlPlane: expected host:port');
    expect(problems).toMatch(/defaults\.strategy: .*"p2c"/);
    expect(problems).toContain('defaults.slowStart.windowMs');
    expect(problems).toContain('services.default/backend:grpc.zoneAffinity.minClusterSize');
    expect(problems).toContain('services.Bad Name: "Bad Name" is not of the form');
  });

  it('takes the control plane and zone from the environment, and requires a control plane', () => {
    const config = parseClientConfig(
      {},
      { SKEWLESS_CONTROL_PLANE: 'cp.skewless:18000', SKEWLESS_ZONE: 'z1', POD_NAME: 'p', POD_NAMESPACE: 'ns' },
    );
    expect(config.controlPlane).toBe('cp.skewless:18000');
    expect(config.zone).toBe('z1');
    expect(config.node.id).toBe('ns/p');
    expect(() => parseClientConfig({}, {})).toThrow(/controlPlane: required/);
  });

  it('merges per-service overrides over defaults', () => {
    const config = parseClientConfig(
      {
        controlPlane: '127.0.0.1:1',
        defaults: { strategy: 'round-robin' },
        services: { 'a/b:c': { slowStart: { windowMs: 0 } } },
      },
      {},
    );
    expect(config.serviceOptions('a/b:c').strategy).toBe('round-robin');
    expect(config.serviceOptions('a/b:c').slowStart).toEqual({ windowMs: 0, aggression: 1, minWeightPercent: 10 });
    expect(config.serviceOptions('x/y:z').slowStart.windowMs).toBe(10_000);
  });
});

describe('malformed assignments', () => {
  it('rejects the whole assignment and names every bad field', () => {
    const bad = {
      cluster_name: 'default/backend:grpc',
      endpoints: [
        {
          locality: { zone: 'a' },
          priority: 0,
          lb_endpoints: [
            {
              endpoint: { address: { socket_address: { address: 'backend.local', port_value: 80 } } },
              health_status: 'HEALTHY',
            },
            {
              endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 0 } } },
              health_status: 'HEALTHY',
            },
            {
              endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 80 } } },
              health_status: 'HEALTHY',
              load_balancing_weight: { value: 0 },
            },
            {
              endpoint: { address: { socket_address: { address: '10.0.0.3', port_value: 80 } } },
              health_status: 'HEALTHY',
            },
            {
              endpoint: { address: { socket_address: { address: '10.0.0.3', port_value: 80 } } },
              health_status: 'HEALTHY',
            },
            { endpoint: null, health_status: 'HEALTHY' },
          ],
        },
      ],
    } as unknown as ClusterLoadAssignment__Output;
    const result = parseAssignment(bad);
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
    expect(paths).toEqual([
      'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: "backend.local" is not an IP literal',
      'endpoints[0].lb_endpoints[1].endpoint.address.socket_address.port_value: 0 is not a port in 1..65535',
      'endpoints[0].lb_endpoints[2].load_balancing_weight: 0 is not ≥ 1',
      'endpoints[0].lb_endpoints[4].endpoint.address: duplicate address 10.0.0.3:80 (also at endpoints[0].lb_endpoints[3])',
      'endpoints[0].lb_endpoints[5].endpoint.address.socket_address: missing',
    ]);
  });
});

describe('bad input end to end', () => {
  const closers: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('an invalid target fails at channel creation with the reason', async () => {
    const ads = await startFakeAdsServer();
    closers.push(() => ads.close());
    register({ controlPlane: `127.0.0.1:${ads.port}` }, { logger: silentLogger });
    const { Client } = echoGrpc();
    expect(() => new Client('skewless:///backend', grpc.credentials.createInsecure())).toThrow(
      /invalid skewless target "skewless:\/\/\/backend": "backend" is not of the form <namespace>\/<service>:<port>/,
    );
    expect(() => new Client('skewless:///default/Backend:grpc', grpc.credentials.createInsecure())).toThrow(
      /service "Backend" is not a DNS label/,
    );
  });

  it('an unknown strategy in register() throws and keeps the previous config', async () => {
    const before = register({ controlPlane: '127.0.0.1:1' }, { logger: silentLogger });
    expect(() =>
      register({ controlPlane: '127.0.0.1:2', services: { [SERVICE_NAME]: { strategy: 'fastest' } } }),
    ).toThrow(/services\.default\/backend:grpc\.strategy/);
    // A new register() without the error succeeds, and the failed one changed nothing in between.
    expect(before.config.controlPlane).toBe('127.0.0.1:1');
  });

  it('NACKs a malformed assignment with every problem, keeps serving the last good endpoints', async () => {
    const ads = await startFakeAdsServer();
    closers.push(() => ads.close());
    const good: Backend[] = [await startBackend('good-0', 'a'), await startBackend('good-1', 'a')];
    closers.push(() => Promise.all(good.map((b) => b.close())).then(() => undefined));
    const registration = register({ controlPlane: `127.0.0.1:${ads.port}` }, { logger: silentLogger });
    closers.push(() => registration.close());
    const { Client } = echoGrpc();
    const client = new Client(`skewless:///${SERVICE_NAME}`, grpc.credentials.createInsecure());
    closers.push(() => client.close());
    client.getChannel().getConnectivityState(true);
    await waitFor('the subscription', () => ads.requests.some((r) => r.resource_names.includes(SERVICE_NAME)));
    ads.push('v1', 'n1', [cla(good.map((b) => ({ address: '127.0.0.1', port: b.port })))]);
    await waitFor('ACK of v1', () => ads.requests.some((r) => r.response_nonce === 'n1'));
    const ack = ads.requests.find((r) => r.response_nonce === 'n1');
    expect(ack?.version_info).toBe('v1');
    expect(ack?.error_detail).toBeNull();

    ads.push('v2', 'n2', [
      cla([
        { address: 'backend.local', port: 80 },
        { address: '127.0.0.1', port: 0 },
      ]),
    ]);
    await waitFor('NACK of v2', () => ads.requests.some((r) => r.response_nonce === 'n2'));
    const nack = ads.requests.find((r) => r.response_nonce === 'n2');
    expect(nack?.version_info).toBe('v1');
    expect(nack?.error_detail?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(nack?.error_detail?.message).toContain(
      'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: "backend.local" is not an IP literal',
    );
    expect(nack?.error_detail?.message).toContain(
      'endpoints[0].lb_endpoints[1].endpoint.address.socket_address.port_value: 0 is not a port',
    );

    const result = await drive([client], { perClient: 200, concurrency: 4, maxMs: 20_000 });
    expect(result.failures).toEqual([]);
    expect(good.every((b) => b.calls > 0)).toBe(true);
    expect(debugSnapshot().controlPlanes.find((c) => c.address === `127.0.0.1:${ads.port}`)?.nacks).toBe(1);
  });
});
