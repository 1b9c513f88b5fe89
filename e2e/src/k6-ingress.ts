/**
 * k6 and the Envoy ingress on a cluster session: makes the ingress's TLS Secret (and so lets its Envoys
 * start), runs k6 pods — e2e/k6/echo-load.ts, gRPC or HTTP/2 over TLS through Envoy, or gRPC to the echo
 * ClusterIP baseline — on the node of a zone, and reads every Envoy's admin stats from inside the pod
 * network. Results come back as LoadResults (k6-summary.ts), so summarize() adds them up with our load
 * clients'.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { ECHO_PROTO_FILE } from '@skewless/shared';
import { pinnedVersion } from '@skewless/testbed';
import type { ClusterSession } from './cluster-session.ts';

import { NAMESPACE } from './cluster-session.ts';
import { type EnvoyIngressStats, envoyIngressStats, parseEnvoyAdminOutput } from './envoy-ingress-stats.ts';
import { ENVOY_INGRESS, ensureIngressTls } from './ingress-tls.ts';
import { type K6LoadResult, k6LoadResult, parseK6Summary } from './k6-summary.ts';

export { ENVOY_INGRESS } from './ingress-tls.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const K6_DIR = join(REPO_ROOT, 'e2e', 'k6');

const SCENARIO_TAINT = 'skewless.dev/scenario';
const SCRIPTS_MOUNT = '/var/run/k6/scripts';
const CA_MOUNT = '/var/run/k6/tls';

export interface K6Spec {
  /** Pod name prefix. */
  readonly name: string;
  /** The k6 pod runs on this zone's node. */
  readonly zone: string;
  /** `envoy`: the ingress Service over TLS; `cluster-ip`: the echo ClusterIP in plaintext (gRPC only). */
  readonly target: 'envoy' | 'cluster-ip';
  /** `http2`: GET /whoami, HTTP/2 when ALPN gives it (through Envoy; the backends speak HTTP/1.1). */
  readonly protocol: 'grpc' | 'http2';
  /** Calls per second, open loop. */
  readonly rate: number;
  readonly durationS: number;
  /** Echo pods to count per pod; replies from others count in the totals only. */
  readonly pods: readonly string[];
  /** Connections: k6 VUs, one connection each (default 8). A call with no free VU is dropped. */
  readonly vus?: number;
  /** Echo delay_ms (gRPC). */
  readonly delayMs?: number;
}

/** Runs one k6 pod to completion: see runK6Group. */
export async function runK6(session: ClusterSession, spec: K6Spec): Promise<K6LoadResult> {
  const [result] = await runK6Group(session, [spec]);
  if (!result) throw new Error('runK6: no result');
  return result;
}

/**
 * Starts one k6 pod per spec at once (each bounded: its own duration, activeDeadlineSeconds, and a
 * wait that deletes it when overdue), waits for all, and returns their results in spec order.
 */
export async function runK6Group(session: ClusterSession, specs: readonly K6Spec[]): Promise<K6LoadResult[]> {
  for (const spec of specs) {
    if (spec.target === 'cluster-ip' && spec.protocol !== 'grpc')
      throw new Error(`k6 ${spec.name}: the echo ClusterIP baseline is gRPC only (the backends serve HTTP/1.1)`);
    if (!Number.isInteger(spec.durationS) || spec.durationS < 1 || spec.durationS > 600)
      throw new Error(`k6 ${spec.name}: durationS ${spec.durationS} is not 1..600`);
  }
  if (specs.some((spec) => spec.target === 'envoy')) await ensureEnvoyIngress(session);
  const echoTarget = specs.some((spec) => spec.target === 'cluster-ip') ? await session.echoClusterIp() : '';
  const echoPods = await session.echoPods();
  const zones = session.cluster.zones;
  const suffix = randomBytes(2).toString('hex');
  const scripts = await createScriptsConfigMap(session.core, `k6-scripts-${suffix}`);
  const pods = specs.map((spec, i) => {
    const target = spec.target === 'envoy' ? `${ENVOY_INGRESS.host}:${ENVOY_INGRESS.port}` : echoTarget;
    const env = {
      TARGET: target,
      PROTOCOL: spec.protocol,
      TLS: String(spec.target === 'envoy'),
      RATE: String(spec.rate),
      DURATION_S: String(spec.durationS),
      VUS: String(spec.vus ?? 8),
      PODS: spec.pods.join(','),
      ZONES: zones.join(','),
      DELAY_MS: String(spec.delayMs ?? 0),
    };
    return { spec, target, pod: k6Pod(`${spec.name}-${i}-${suffix}`, spec, scripts, 'echo-load.ts', env) };
  });
  try {
    for (const { pod } of pods) await session.core.createNamespacedPod({ namespace: NAMESPACE, body: pod });
    const results: K6LoadResult[] = [];
    for (const { spec, target, pod } of pods) {
      const name = pod.metadata?.name ?? '';
      const log = await runToEnd(session, name, (spec.durationS + 60) * 1000);
      const summary = parseK6Summary(log);
      if (!summary) throw new Error(`k6 pod ${name} printed no summary; its log ends:\n${log.slice(-3000)}`);
      results.push(
        k6LoadResult(summary, {
          protocol: spec.protocol,
          target,
          client: name,
          zone: spec.zone,
          rate: spec.rate,
          durationS: spec.durationS,
          vus: spec.vus ?? 8,
          pods: spec.pods.map((podName) => {
            const found = echoPods.find((p) => p.name === podName);
            return { name: podName, zone: found?.zone ?? '', node: found?.node ?? '' };
          }),
        }),
      );
    }
    return results;
  } finally {
    for (const { pod } of pods) await deletePod(session.core, pod.metadata?.name ?? '');
    await session.core.deleteNamespacedConfigMap({ name: scripts, namespace: NAMESPACE }).catch(() => undefined);
  }
}

/**
 * Every Envoy ingress pod's admin stats, read by a k6 pod (e2e/k6/envoy-admin.ts: pod IPs are reachable
 * only from inside the pod network) from /stats and /clusters; upstream hosts are named by the echo pod
 * that has their IP.
 */
export async function envoyStats(session: ClusterSession): Promise<EnvoyIngressStats[]> {
  const list = await session.core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app=envoy-ingress' });
  const envoys = list.items
    .filter((pod) => !pod.metadata?.deletionTimestamp && pod.status?.podIP)
    .map((pod) => ({
      name: pod.metadata?.name ?? '',
      ip: pod.status?.podIP ?? '',
      zone: pod.metadata?.labels?.['topology.kubernetes.io/zone'] ?? '',
    }));
  if (envoys.length === 0) throw new Error('envoyStats: no envoy-ingress pod with an IP');
  const suffix = randomBytes(2).toString('hex');
  const scripts = await createScriptsConfigMap(session.core, `k6-scripts-${suffix}`);
  const name = `envoy-admin-${suffix}`;
  const admin = envoys.map((e) => `${e.name}=${e.ip}:${ENVOY_INGRESS.adminPort}`).join(',');
  const zone = envoys[0]?.zone || session.cluster.zones[0] || '';
  try {
    await session.core.createNamespacedPod({
      namespace: NAMESPACE,
      body: k6Pod(name, { zone, durationS: 1 }, scripts, 'envoy-admin.ts', { ADMIN: admin }),
    });
    const log = await runToEnd(session, name, 60_000);
    const output = parseEnvoyAdminOutput(log);
    if (!output) throw new Error(`envoy admin pod ${name} printed no result; its log ends:\n${log.slice(-3000)}`);
    const podsByIp = new Map((await session.echoPods()).map((pod) => [pod.ip, pod.name]));
    return envoyIngressStats(output, new Map(envoys.map((e) => [e.name, e.zone])), podsByIp);
  } finally {
    await deletePod(session.core, name);
    await session.core.deleteNamespacedConfigMap({ name: scripts, namespace: NAMESPACE }).catch(() => undefined);
  }
}

/**
 * The CA of the ingress's TLS Secret, once every Envoy is Ready. The session makes the Secret when it
 * applies the manifests (ingress-tls.ts); this also makes it for a session that predates it.
 */
export async function ensureEnvoyIngress(session: ClusterSession, timeoutMs = 120_000): Promise<string> {
  const caPem = await ensureIngressTls(session.core);
  await session.waitDeploymentReady(ENVOY_INGRESS.deployment, timeoutMs);
  return caPem;
}

/** The k6 scripts and echo.proto, as the pods mount them (one ConfigMap per run: no stale copy). */
async function createScriptsConfigMap(core: CoreV1Api, name: string): Promise<string> {
  const data: Record<string, string> = { 'echo.proto': readFileSync(ECHO_PROTO_FILE, 'utf8') };
  for (const script of ['echo-load.ts', 'envoy-admin.ts']) data[script] = readFileSync(join(K6_DIR, script), 'utf8');
  await core.createNamespacedConfigMap({
    namespace: NAMESPACE,
    body: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: NAMESPACE, labels: { app: 'k6', 'app.kubernetes.io/part-of': 'skewless' } },
      data,
    },
  });
  return name;
}

function k6Pod(
  name: string,
  spec: { readonly zone: string; readonly durationS: number },
  scripts: string,
  script: string,
  env: Record<string, string>,
): V1Pod {
  const tls = env.TLS === 'true';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { app: 'k6', 'app.kubernetes.io/part-of': 'skewless' } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      // A kubelet ends the pod past this; the local node agent does not, so runToEnd deletes it too.
      activeDeadlineSeconds: spec.durationS + 60,
      nodeSelector: { 'topology.kubernetes.io/zone': spec.zone },
      tolerations: [{ key: SCENARIO_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'k6',
          image: pinnedVersion('K6_IMAGE'),
          args: ['run', '--quiet', '--no-usage-report', '--log-format=json', `${SCRIPTS_MOUNT}/${script}`],
          env: [
            ...Object.entries(env).map(([key, value]) => ({ name: key, value })),
            { name: 'ECHO_PROTO', value: `${SCRIPTS_MOUNT}/echo.proto` },
            // Go (so k6, gRPC included) trusts the CA bundle named here instead of the system's.
            ...(tls ? [{ name: 'SSL_CERT_FILE', value: `${CA_MOUNT}/ca.crt` }] : []),
          ],
          volumeMounts: [
            { name: 'scripts', mountPath: SCRIPTS_MOUNT, readOnly: true },
            ...(tls ? [{ name: 'ca', mountPath: CA_MOUNT, readOnly: true }] : []),
          ],
        },
      ],
      volumes: [
        { name: 'scripts', configMap: { name: scripts } },
        ...(tls
          ? [
              {
                name: 'ca',
                secret: { secretName: ENVOY_INGRESS.tlsSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }] },
              },
            ]
          : []),
      ],
    },
  };
}

/** Waits for the pod to end and returns its log; past `timeoutMs` it deletes the pod and throws. */
async function runToEnd(session: ClusterSession, name: string, timeoutMs: number): Promise<string> {
  const began = performance.now();
  for (;;) {
    const pod = await session.core.readNamespacedPod({ name, namespace: NAMESPACE });
    const phase = pod.status?.phase ?? 'Pending';
    if (phase === 'Succeeded' || phase === 'Failed') return session.cluster.podLogs(NAMESPACE, name, 'k6');
    if (performance.now() - began > timeoutMs) {
      const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
      await deletePod(session.core, name);
      throw new Error(
        `k6 pod ${name} still ${phase} after ${timeoutMs} ms${waiting ? ` (${waiting.reason}: ${waiting.message})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function deletePod(core: CoreV1Api, name: string): Promise<void> {
  await core.deleteNamespacedPod({ name, namespace: NAMESPACE }).catch(() => undefined);
}
