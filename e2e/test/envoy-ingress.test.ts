/**
 * The Envoy ingress in the local cluster (issue #5): one Envoy per zone configured by nothing but an ADS
 * bootstrap pointing at our control plane, TLS from a Secret the test makes, driven by k6 pods running
 * e2e/k6/echo-load.ts — gRPC and HTTP/2 over TLS through the `envoy-ingress` Service, and gRPC to the echo
 * ClusterIP as the kube-proxy baseline — with Envoy's own admin stats read from inside the pod network.
 */
import { resolve } from 'node:path';
import { localClusterDriver } from '@skewless/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterSession, type EchoPod, NAMESPACE, openClusterSession } from '../src/cluster-session.ts';
import type { EnvoyIngressStats } from '../src/envoy-ingress-stats.ts';
import { ensureEnvoyIngress, envoyStats, runK6, runK6Group } from '../src/k6-ingress.ts';
import type { K6LoadResult } from '../src/k6-summary.ts';
import { summarize } from '../src/scenario-metrics.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const RATE = 60;
const DURATION_S = 10;
let session: ClusterSession;
let echoPods: EchoPod[];
let grpcRuns: K6LoadResult[] = [];
let http2Run: K6LoadResult | undefined;

beforeAll(async () => {
  session = await openClusterSession({ repoRoot, driver: localClusterDriver() });
  const began = performance.now();
  await ensureEnvoyIngress(session);
  process.stderr.write(
    `[envoy-ingress] TLS Secret made, Envoys Ready in ${((performance.now() - began) / 1000).toFixed(1)} s\n`,
  );
  echoPods = await session.echoPods();
}, 300_000);

afterAll(async () => {
  await session?.close();
}, 60_000);

/** Calls that failed, leaving out the ones k6 did not start (no free VU: the generator's limit, not Envoy's). */
const callErrors = (r: K6LoadResult) => r.totals.errors - r.droppedIterations;
const ourStats = (stats: readonly EnvoyIngressStats[], cluster: string) =>
  stats.map((envoy) => ({ envoy, cluster: envoy.clusters.find((c) => c.name === cluster) }));

describe('Envoy ingress in the local cluster', () => {
  it('runs one Ready Envoy per zone, configured over ADS alone: listener, routes and clusters accepted, none rejected', async () => {
    const pods = await session.core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app=envoy-ingress' });
    const zones = pods.items.map((pod) => pod.metadata?.labels?.['topology.kubernetes.io/zone']).sort();
    expect(zones).toEqual([...session.cluster.zones].sort());
    for (const pod of pods.items) {
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, pod.metadata?.name).toBe('True');
    }
    const stats = await envoyStats(session);
    expect(stats).toHaveLength(3);
    for (const envoy of stats) {
      expect(envoy.error, envoy.pod).toBeUndefined();
      expect(envoy.controlPlaneConnected, envoy.pod).toBe(true);
      expect(envoy.listenersActive, envoy.pod).toBe(1);
      for (const kind of ['lds', 'cds', 'rds'] as const) {
        expect(envoy[kind].success, `${envoy.pod} ${kind}`).toBeGreaterThan(0);
        expect(envoy[kind].rejected, `${envoy.pod} ${kind}`).toBe(0);
      }
      // All 9 echo pods, HEALTHY; the Envoy's own zone at priority 0 (node.locality.zone from --service-zone).
      const echo = envoy.clusters.find((c) => c.name === 'skewless/echo:grpc');
      expect(echo?.eds.rejected).toBe(0);
      expect(echo?.hosts.map((h) => h.pod).sort()).toEqual(echoPods.map((p) => p.name).sort());
      expect(echo?.hosts.every((h) => h.health === 'HEALTHY')).toBe(true);
      const local = echo?.hosts.filter((h) => h.priority === 0) ?? [];
      expect(local.map((h) => h.zone)).toEqual([envoy.zone, envoy.zone, envoy.zone]);
    }
  });

  it('carries gRPC over TLS from one k6 per zone to all 9 echo pods: 0 errors, zone-local, even per pod', async () => {
    grpcRuns = await runK6Group(
      session,
      session.cluster.zones.map((zone) => ({
        name: `k6-grpc-${zone}`,
        zone,
        target: 'envoy' as const,
        protocol: 'grpc' as const,
        rate: RATE,
        durationS: DURATION_S,
        pods: echoPods.map((p) => p.name),
      })),
    );
    const summary = summarize(grpcRuns, echoPods);
    process.stderr.write(
      `[envoy-ingress] gRPC/TLS via Envoy: ${summary.totals.requests} calls, errors ${JSON.stringify(summary.totals.byCode)}, ` +
        `max/mean ${summary.metrics.maxOverMean?.toFixed(3)}, same-zone ${summary.metrics.sameZoneShare?.toFixed(3)}, ` +
        `per pod ${summary.perPod.map((p) => `${p.pod.slice(-5)}=${p.requests}`).join(' ')}, ` +
        `p50/p99 ${grpcRuns.map((r) => `${r.latencyMs.p50}/${r.latencyMs.p99}`).join(' ')} ms\n`,
    );
    for (const run of grpcRuns) {
      expect(callErrors(run), `${run.client} ${JSON.stringify(run.totals.byCode)}`).toBe(0);
      // A handful of calls may find every VU busy on a starved machine; more means the numbers mean little.
      expect(run.droppedIterations, run.client).toBeLessThanOrEqual(run.totals.requests * 0.02);
      expect(run.unlistedPodCalls).toBe(0);
    }
    expect(summary.perPod.filter((p) => p.requests > 0)).toHaveLength(9);
    expect(summary.metrics.maxOverMean).toBeLessThanOrEqual(1.2);
    // k6 → Envoy of its zone (the Service prefers the caller's zone) → that zone's pods (priority 0).
    expect(summary.metrics.sameZoneShare).toBeGreaterThanOrEqual(0.99);
  });

  it('speaks HTTP/2 over TLS (ALPN h2) to GET /whoami through Envoy, answered by the pods of the zone', async () => {
    const zone = session.cluster.zones[0] ?? 'zone-a';
    http2Run = await runK6(session, {
      name: 'k6-http2',
      zone,
      target: 'envoy',
      protocol: 'http2',
      rate: RATE,
      durationS: 5,
      pods: echoPods.map((p) => p.name),
    });
    process.stderr.write(
      `[envoy-ingress] HTTP/2/TLS via Envoy: ${http2Run.totals.requests} calls, protocols ${JSON.stringify(http2Run.httpProtocols)}, ` +
        `errors ${JSON.stringify(http2Run.totals.byCode)}, p50/p99 ${http2Run.latencyMs.p50?.toFixed(2)}/${http2Run.latencyMs.p99?.toFixed(2)} ms\n`,
    );
    expect(callErrors(http2Run), JSON.stringify(http2Run.totals.byCode)).toBe(0);
    expect(http2Run.httpProtocols).toEqual({ 'HTTP/2.0': http2Run.totals.ok });
    expect(http2Run.perPod.map((p) => p.pod).sort()).toEqual(
      echoPods
        .filter((p) => p.zone === zone)
        .map((p) => p.name)
        .sort(),
    );
  });

  it("agrees with Envoy's own counters: upstream requests per echo pod, TLS and HTTP/2 downstream, no 5xx", async () => {
    const stats = await envoyStats(session);
    const k6PerPod = new Map<string, number>();
    for (const run of grpcRuns)
      for (const p of run.perPod) k6PerPod.set(p.pod, (k6PerPod.get(p.pod) ?? 0) + p.requests);
    const envoyPerPod = new Map<string, number>();
    for (const { cluster } of ourStats(stats, 'skewless/echo:grpc')) {
      for (const host of cluster?.hosts ?? [])
        if (host.pod) envoyPerPod.set(host.pod, (envoyPerPod.get(host.pod) ?? 0) + host.rqTotal);
    }
    expect(Object.fromEntries(envoyPerPod)).toEqual(Object.fromEntries(k6PerPod));
    const httpUpstream = ourStats(stats, 'skewless/echo:http').reduce(
      (a, { cluster }) => a + (cluster?.rqTotal ?? 0),
      0,
    );
    expect(httpUpstream).toBe(http2Run?.totals.ok);
    for (const envoy of stats) {
      expect(envoy.downstream.rq5xx, envoy.pod).toBe(0);
      expect(envoy.downstream.cxSsl, envoy.pod).toBeGreaterThan(0);
      expect(envoy.downstream.sslHandshakes, envoy.pod).toBeGreaterThan(0);
      expect(envoy.downstream.cxHttp2, envoy.pod).toBeGreaterThan(0);
      expect(envoy.downstream.cxHttp1, envoy.pod).toBe(0);
      expect(envoy.lds.rejected + envoy.cds.rejected + envoy.rds.rejected, envoy.pod).toBe(0);
    }
    process.stderr.write(
      `[envoy-ingress] Envoy stats: ${stats
        .map(
          (e) =>
            `${e.zone} lds ${e.lds.success}/${e.lds.rejected} cds ${e.cds.success}/${e.cds.rejected} rds ${e.rds.success}/${e.rds.rejected} ` +
            `downstream rq ${e.downstream.rqTotal} (h2 cx ${e.downstream.cxHttp2}, tls cx ${e.downstream.cxSsl})`,
        )
        .join('; ')}\n`,
    );
  });

  it('shows the baseline the ingress fixes: the same k6 straight to the echo ClusterIP reaches one pod per connection', async () => {
    const baseline = await runK6(session, {
      name: 'k6-cluster-ip',
      zone: session.cluster.zones[0] ?? 'zone-a',
      target: 'cluster-ip',
      protocol: 'grpc',
      rate: RATE,
      durationS: 5,
      vus: 2,
      pods: echoPods.map((p) => p.name),
    });
    const summary = summarize([baseline], echoPods);
    process.stderr.write(
      `[envoy-ingress] gRPC via ClusterIP, 2 connections: pods answered ${baseline.perPod.length}, ` +
        `max/mean ${summary.metrics.maxOverMean?.toFixed(2)}\n`,
    );
    expect(callErrors(baseline)).toBe(0);
    // kube-proxy chooses per connection: at most one pod per k6 VU.
    expect(baseline.perPod.length).toBeGreaterThanOrEqual(1);
    expect(baseline.perPod.length).toBeLessThanOrEqual(2);
    expect(summary.metrics.maxOverMean).toBeGreaterThanOrEqual(4.5);
  });
});
