/**
 * Our control plane against a real Envoy configured only by an ADS bootstrap, in state-of-the-world
 * and delta modes: gRPC and h2c through the ingress to real backends on 127.0.0.1, endpoint churn
 * seen in Envoy's admin /clusters, per-client zone priority, and a NACK Envoy really sends.
 */
import * as grpc from '@grpc/grpc-js';
import { type EchoClient, echoGrpc, TYPE_URL } from '@skewless/shared';
import {
  type AdsApiType,
  envoyAdsBootstrap,
  freePort,
  type StartedEchoServer,
  type StartedEnvoy,
  startEchoServer,
  startEnvoy,
} from '@skewless/testbed';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServicePortEndpoints } from '../src/model.ts';
import { ZONE_PRIORITY_METADATA_KEY } from '../src/xds-client-info.ts';
import { eventually } from './support/ads-test-client.ts';
import { type H2cBackend, h2cGet, startH2cBackend } from './support/h2c-backend.ts';
import { type EndpointSpec, service } from './support/services.ts';
import { startTestXds, type TestXds } from './support/xds-fixture.ts';

const ECHO = 'default/echo:grpc';
const WEB = 'default/web:http';
const ECHO_SERVICE = 'skewless.echo.v1.Echo';

const echoBackends: StartedEchoServer[] = [];
const webBackends: H2cBackend[] = [];

beforeAll(async () => {
  echoBackends.push(
    await startEchoServer({ pod: 'echo-a1', zone: 'zone-a' }),
    await startEchoServer({ pod: 'echo-a2', zone: 'zone-a' }),
    await startEchoServer({ pod: 'echo-b1', zone: 'zone-b' }),
  );
  webBackends.push(await startH2cBackend('web-1'), await startH2cBackend('web-2'));
});

afterAll(async () => {
  for (const b of echoBackends) b.close();
  await Promise.all(webBackends.map((b) => b.close()));
});

function echoEndpoint(pod: string, overrides: Partial<EndpointSpec> = {}): EndpointSpec {
  const b = echoBackends.find((e) => e.pod === pod);
  if (!b) throw new Error(`no backend ${pod}`);
  return { address: '127.0.0.1', port: b.port, zone: b.zone, pod, ...overrides };
}

function views(echo: EndpointSpec[]): ServicePortEndpoints[] {
  return [
    service(ECHO, echo),
    service(
      WEB,
      webBackends.map((b) => ({ address: '127.0.0.1', port: b.port, pod: b.id })),
      { appProtocol: 'kubernetes.io/h2c' },
    ),
  ];
}

describe.each<AdsApiType>(['GRPC', 'DELTA_GRPC'])('Envoy over ADS (%s)', (apiType) => {
  let xds: TestXds;
  let envoy: StartedEnvoy | undefined;
  let ingressPort: number;
  let client: EchoClient;

  const echoCall = () =>
    new Promise<string>((resolve, reject) =>
      client.Echo({ message: 'hi' }, new grpc.Metadata(), { deadline: new Date(Date.now() + 3000) }, (error, reply) =>
        error ? reject(error) : resolve(reply?.pod ?? ''),
      ),
    );
  const podsAnswering = async (n: number) => {
    const pods = new Set<string>();
    for (let i = 0; i < n; i += 1) pods.add(await echoCall());
    return pods;
  };
  /** The echo cluster as Envoy sees it: `<backend> <health> p<priority>`, sorted. */
  const echoHosts = async () => {
    const cluster = (await envoy?.clusters())?.find((c) => c.name === ECHO);
    const label = (port: number) => echoBackends.find((b) => b.port === port)?.pod.replace('echo-', '') ?? `?${port}`;
    return (cluster?.hosts ?? []).map((h) => `${label(h.port)} ${h.health} p${h.priority}`).sort();
  };

  beforeAll(async () => {
    ingressPort = await freePort();
    xds = await startTestXds({
      ingress: {
        host: '127.0.0.1',
        port: ingressPort,
        routes: [
          { service: ECHO, match: { grpcService: ECHO_SERVICE } },
          { service: WEB, match: { pathPrefix: '/' } },
        ],
      },
    });
    xds.cache.replaceAll(views([echoEndpoint('echo-a1'), echoEndpoint('echo-a2'), echoEndpoint('echo-b1')]));
    envoy = await startEnvoy({
      bootstrap: envoyAdsBootstrap({
        nodeId: `envoy-ingress-${apiType}`,
        zone: 'zone-a',
        metadata: { [ZONE_PRIORITY_METADATA_KEY]: true },
        xdsHost: '127.0.0.1',
        xdsPort: xds.port,
        apiType,
      }),
    });
    client = new (echoGrpc().Client)(`127.0.0.1:${ingressPort}`, grpc.credentials.createInsecure());
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail' && envoy) {
      process.stderr.write(`${envoy.logTail(60)}\n`);
      process.stderr.write(
        `--- control plane warnings ---\n${JSON.stringify(xds.log.lines.filter((l) => l.level >= (process.env.DEBUG_XDS ? 20 : 40)).slice(-60))}\n`,
      );
    }
  });

  afterAll(async () => {
    client?.close();
    await envoy?.stop();
    await xds?.close();
  });

  it('becomes LIVE from ADS alone and loads our clusters, with its own zone at priority 0', async () => {
    const names = (await envoy?.clusters())?.map((c) => c.name).filter((n) => n.startsWith('default/'));
    expect(names?.sort()).toEqual([ECHO, WEB]);
    await eventually(async () =>
      expect(await echoHosts()).toEqual(['a1 HEALTHY p0', 'a2 HEALTHY p0', 'b1 HEALTHY p1']),
    );
  });

  it('routes gRPC calls by service name to the backends of its zone', async () => {
    await eventually(async () => expect(await podsAnswering(12)).toEqual(new Set(['echo-a1', 'echo-a2'])), 10_000);
  });

  it('routes h2c (HTTP/2 prior knowledge) requests by path prefix over HTTP/2 upstream', async () => {
    const bodies = new Set<string>();
    await eventually(async () => {
      const response = await h2cGet(ingressPort, '/hello');
      expect(response.status).toBe(200);
      bodies.add(response.body);
      expect(bodies).toEqual(new Set(['web-1', 'web-2']));
    }, 10_000);
  });

  it('follows endpoint changes: health, removal and addition show in /clusters', async () => {
    xds.cache.replaceAll(
      views([echoEndpoint('echo-a1', { health: 'DRAINING' }), echoEndpoint('echo-a2'), echoEndpoint('echo-b1')]),
    );
    await eventually(async () =>
      expect(await echoHosts()).toEqual(['a1 DRAINING p0', 'a2 HEALTHY p0', 'b1 HEALTHY p1']),
    );
    xds.cache.replaceAll(views([echoEndpoint('echo-a2'), echoEndpoint('echo-b1')]));
    await eventually(async () => expect(await echoHosts()).toEqual(['a2 HEALTHY p0', 'b1 HEALTHY p1']));
    // zone-a left entirely: no priority gap, zone-b becomes priority 0.
    xds.cache.replaceAll(views([echoEndpoint('echo-b1')]));
    await eventually(async () => expect(await echoHosts()).toEqual(['b1 HEALTHY p0']));
    await eventually(async () => expect(await podsAnswering(4)).toEqual(new Set(['echo-b1'])));
    xds.cache.replaceAll(views([echoEndpoint('echo-a1'), echoEndpoint('echo-a2'), echoEndpoint('echo-b1')]));
    await eventually(async () =>
      expect(await echoHosts()).toEqual(['a1 HEALTHY p0', 'a2 HEALTHY p0', 'b1 HEALTHY p1']),
    );
  });

  it('finishes warming a changed cluster: the EDS request after a CDS change is answered', async () => {
    const modified = async () => await envoy!.stats('cluster_manager\\.(cluster_modified|warming_clusters)$');
    const before = (await modified()).get('cluster_manager.cluster_modified') ?? 0;
    const withWebProtocol = (appProtocol: string) => [
      views([echoEndpoint('echo-a1'), echoEndpoint('echo-a2'), echoEndpoint('echo-b1')])[0]!,
      service(
        WEB,
        webBackends.map((b) => ({ address: '127.0.0.1', port: b.port, pod: b.id })),
        { appProtocol },
      ),
    ];
    // The Cluster changes (upstream protocol), its endpoints do not.
    xds.cache.replaceAll(withWebProtocol('http'));
    await eventually(async () => {
      const stats = await modified();
      expect(stats.get('cluster_manager.cluster_modified')).toBe(before + 1);
      expect(stats.get('cluster_manager.warming_clusters')).toBe(0);
    });
    xds.cache.replaceAll(withWebProtocol('kubernetes.io/h2c'));
    await eventually(async () => {
      const stats = await modified();
      expect(stats.get('cluster_manager.cluster_modified')).toBe(before + 2);
      expect(stats.get('cluster_manager.warming_clusters')).toBe(0);
    });
    const web = (await envoy!.clusters()).find((c) => c.name === WEB);
    expect(web?.hosts.map((h) => h.health)).toEqual(['HEALTHY', 'HEALTHY']);
    await eventually(async () => expect((await h2cGet(ingressPort, '/after-warming')).status).toBe(200));
  });

  it('survives a route config Envoy rejects: NACK logged once, last good routes kept, no resend loop', async () => {
    const nacks = () => xds.log.matching(/NACK/);
    const rejected = () => envoy!.stats('rds\\.ingress\\.update_rejected$');
    expect(nacks()).toHaveLength(0);
    // An invalid RE2 pattern: Envoy's RDS validation rejects the whole RouteConfiguration.
    xds.cache.setTestOverride(TYPE_URL.routeConfiguration, 'ingress', {
      name: 'ingress',
      virtual_hosts: [
        {
          name: 'ingress',
          domains: ['*'],
          routes: [{ match: { safe_regex: { regex: '([' } }, route: { cluster: ECHO } }],
        },
      ],
    });
    await eventually(() => expect(nacks()).toHaveLength(1), 10_000);
    expect(nacks()[0]).toMatchObject({ level: 40, type: 'rds', nodeId: `envoy-ingress-${apiType}` });
    expect(String(nacks()[0]?.error)).toMatch(/regex|re2|missing/i);
    await eventually(async () =>
      expect([...(await rejected()).values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1),
    );

    // Envoy still routes with the last good config.
    expect(await podsAnswering(4)).toEqual(new Set(['echo-a1', 'echo-a2']));
    // The stream stays alive and in use: an endpoint change still reaches Envoy, and the rejected
    // routes are not pushed again meanwhile.
    const rdsPushes = async () =>
      Number(/type="rds"\} (\d+)/.exec(await xds.registry.getSingleMetricAsString('skewless_xds_pushes_total'))?.[1]);
    const pushesAfterNack = await rdsPushes();
    xds.cache.replaceAll(
      views([echoEndpoint('echo-a1'), echoEndpoint('echo-a2', { health: 'DRAINING' }), echoEndpoint('echo-b1')]),
    );
    await eventually(async () =>
      expect(await echoHosts()).toEqual(['a1 HEALTHY p0', 'a2 DRAINING p0', 'b1 HEALTHY p1']),
    );
    expect(await rdsPushes()).toBe(pushesAfterNack);
    expect(nacks()).toHaveLength(1);

    // A fixed version is accepted.
    xds.cache.setTestOverride(TYPE_URL.routeConfiguration, 'ingress', undefined);
    await eventually(async () => expect(await rdsPushes()).toBe(pushesAfterNack + 1));
    await eventually(async () => {
      const ok = await envoy!.stats('rds\\.ingress\\.update_success$');
      expect([...ok.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    });
    expect(nacks()).toHaveLength(1);
    xds.cache.replaceAll(views([echoEndpoint('echo-a1'), echoEndpoint('echo-a2'), echoEndpoint('echo-b1')]));
    await eventually(async () => expect(await podsAnswering(12)).toEqual(new Set(['echo-a1', 'echo-a2'])), 10_000);
  });
});
