/**
 * A cluster with Skewless deployed on it, for scenarios: boots it through a driver, applies the
 * manifests with kubectl, waits for the Deployments, and offers what scenarios do — run load client
 * pods and read their results, restart a Deployment, watch EndpointSlices. Everything it creates goes
 * away in close(), which also runs after a failure.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1EndpointSlice,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import type { LoadResult } from '@skewless/load';
import type { ClusterDriver, StartedCluster } from '@skewless/testbed';
import { toolPath } from '@skewless/testbed';
import { stringify } from 'yaml';
import { ensureIngressTls } from './ingress-tls.ts';
import { NAMESPACE } from './namespace.ts';

export { NAMESPACE } from './namespace.ts';

const run = promisify(execFile);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const SCENARIO_TAINT = 'skewless.dev/scenario';
const LOAD_IMAGE = 'skewless/load:dev';

export interface ClusterSessionOptions {
  readonly repoRoot: string;
  readonly driver: ClusterDriver;
  readonly zones?: readonly string[];
  /** kustomize overlay under manifests/overlays (default: the driver's kind). */
  readonly overlay?: string;
  readonly keepOnFailure?: boolean;
}

export interface EchoPod {
  readonly name: string;
  readonly ip: string;
  readonly node: string;
  readonly zone: string;
  readonly ready: boolean;
}

export interface LoadPodSpec {
  /** Runs on the node of this zone. */
  readonly zone: string;
  /** Arguments after `load` (the target, mode, rate, …). */
  readonly args: readonly string[];
}

export interface ClusterSession {
  readonly cluster: StartedCluster;
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly timings: Record<string, number>;
  /**
   * `<ClusterIP>:18000` of the control plane. Load pods dial the address; cluster DNS also resolves it as
   * `skewless-control-plane.skewless.svc.cluster.local`.
   */
  controlPlaneAddress(): Promise<string>;
  /** `<ClusterIP>:50051` of the echo Service: the kube-proxy baseline's target. */
  echoClusterIp(): Promise<string>;
  echoPods(): Promise<EchoPod[]>;
  /** When each echo pod (not yet deleted) last became Ready, epoch ms; absent while not Ready. */
  echoReadyTimes(): Promise<Map<string, number>>;
  /**
   * Runs a one-off pod to completion (restartPolicy Never) on the node of `zone` and returns its phase
   * and log: for things done from inside the pod network, like a backend's PUT /fault.
   */
  runPod(
    name: string,
    spec: { zone: string; image: string; args: readonly string[] },
    timeoutMs: number,
  ): Promise<{ phase: string; log: string }>;
  /** Starts load client pods, waits for all to finish, returns each one's result. */
  runLoadPods(name: string, specs: readonly LoadPodSpec[], timeoutMs: number): Promise<LoadResult[]>;
  /**
   * Adds (or removes) the NoSchedule taint `skewless.dev/scenario` on a node: new backend pods stay
   * off it, while load pods (which tolerate it) still run there — what `kubectl cordon` cannot do.
   */
  setScenarioTaint(node: string, on: boolean): Promise<void>;
  deletePod(name: string): Promise<void>;
  scaleDeployment(deployment: string, replicas: number): Promise<void>;
  /** The echo Deployment's desired replicas. */
  echoReplicas(): Promise<number>;
  /** Pods (not yet deleted) matching a label selector in the namespace. */
  podsOf(labelSelector: string): Promise<number>;
  /** Waits until `n` pods matching the selector are Running (e.g. load clients under way). */
  waitPodsRunning(labelSelector: string, n: number, timeoutMs: number): Promise<void>;
  /** `kubectl rollout restart`: a new pod-template annotation, a real rolling update. */
  rolloutRestart(deployment: string): Promise<void>;
  waitDeploymentReady(deployment: string, timeoutMs: number): Promise<void>;
  /** Records every EndpointSlice change of a Service until the returned stop() is called. */
  watchEndpointSlices(service: string): Promise<{ events: EndpointSliceEvent[]; stop(): void }>;
  close(): Promise<void>;
}

export interface EndpointSliceEvent {
  readonly atMs: number;
  readonly endpoints: { pod: string; ip: string; ready: boolean; serving: boolean; terminating: boolean }[];
}

export async function openClusterSession(options: ClusterSessionOptions): Promise<ClusterSession> {
  const timings: Record<string, number> = {};
  const configured = options.driver.configure({
    zones: options.zones ?? [],
    region: 'region-1',
    keepOnFailure: options.keepOnFailure ?? false,
  });
  const cluster = await configured.start();
  Object.assign(timings, cluster.timings);
  const session = sessionFor(cluster, timings);
  try {
    await phase(timings, 'apply manifests', () => applyManifests(cluster, options));
    // The ingress certificate names the Service's ClusterIP, known only once the manifests are applied.
    await phase(timings, 'ingress TLS secret', () => ensureIngressTls(session.core));
    await phase(timings, 'deployments ready', async () => {
      await session.waitDeploymentReady('skewless-control-plane', 120_000);
      await session.waitDeploymentReady('echo', 120_000);
      await session.waitDeploymentReady('envoy-ingress', 120_000);
    });
    return session;
  } catch (error) {
    await session.close();
    throw error;
  }
}

async function phase<T>(timings: Record<string, number>, name: string, body: () => Promise<T>): Promise<T> {
  const began = performance.now();
  process.stderr.write(`[e2e] ▸ ${name} …\n`);
  const result = await body();
  const seconds = (performance.now() - began) / 1000;
  timings[name] = Math.round(seconds * 10) / 10;
  process.stderr.write(`[e2e] ✓ ${name} ${seconds.toFixed(1)} s\n`);
  return result;
}

async function applyManifests(cluster: StartedCluster, options: ClusterSessionOptions): Promise<void> {
  const overlay = join(options.repoRoot, 'manifests', 'overlays', options.overlay ?? cluster.kind);
  const kubectl = toolPath('kubectl');
  const rendered = await run(kubectl, ['kustomize', overlay], { maxBuffer: 16 * 1024 * 1024 });
  const images = [...rendered.stdout.matchAll(/^\s+image:\s*(\S+)/gm)].map((m) => m[1] ?? '');
  // Load pods run skewless/load, which no manifest names.
  await cluster.loadImages([...new Set([...images, LOAD_IMAGE])]);
  // A driver that renamed our images (a registry prefix) gets them under those names: a kustomization
  // made for this run layers its `images:` over the overlay.
  const overrides = cluster.imageOverrides?.() ?? [];
  const target = overrides.length > 0 ? renamedOverlay(options.repoRoot, overlay, overrides) : overlay;
  try {
    await run(kubectl, ['--kubeconfig', cluster.kubeconfigPath, 'apply', '-k', target]);
  } catch (error) {
    throw new Error(`kubectl apply -k ${target} failed: ${(error as { stderr?: string }).stderr ?? error}`);
  } finally {
    if (target !== overlay) rmSync(target, { recursive: true, force: true });
  }
}

function renamedOverlay(
  repoRoot: string,
  overlay: string,
  images: readonly { name: string; newName: string; newTag: string }[],
): string {
  const parent = join(repoRoot, '.cluster');
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'overlay-'));
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [relative(dir, overlay)],
    images: images.map((i) => ({ ...i })),
  };
  writeFileSync(join(dir, 'kustomization.yaml'), stringify(kustomization));
  return dir;
}

function sessionFor(cluster: StartedCluster, timings: Record<string, number>): ClusterSession {
  const kubeConfig = cluster.kubeConfig;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  const clusterIp = async (service: string, port: number) => {
    const found = await core.readNamespacedService({ name: service, namespace: NAMESPACE });
    return `${found.spec?.clusterIP}:${port}`;
  };
  let closed = false;

  return {
    cluster,
    kubeConfig,
    core,
    apps,
    timings,
    controlPlaneAddress: () => clusterIp('skewless-control-plane', 18000),
    echoClusterIp: () => clusterIp('echo', 50051),

    async echoPods() {
      const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app=echo' });
      return pods.items
        .filter((pod) => !pod.metadata?.deletionTimestamp)
        .map((pod) => ({
          name: pod.metadata?.name ?? '',
          ip: pod.status?.podIP ?? '',
          node: pod.spec?.nodeName ?? '',
          zone: pod.metadata?.labels?.['topology.kubernetes.io/zone'] ?? '',
          ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        }));
    },

    async echoReadyTimes() {
      const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app=echo' });
      const times = new Map<string, number>();
      for (const pod of pods.items) {
        if (pod.metadata?.deletionTimestamp) continue;
        const ready = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
        if (ready?.lastTransitionTime)
          times.set(pod.metadata?.name ?? '', new Date(ready.lastTransitionTime).getTime());
      }
      return times;
    },

    async runPod(name, spec, timeoutMs) {
      const podName = `${name}-${randomBytes(2).toString('hex')}`;
      await core.createNamespacedPod({
        namespace: NAMESPACE,
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: podName,
            namespace: NAMESPACE,
            labels: { app: 'one-off', 'app.kubernetes.io/part-of': 'skewless' },
          },
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            nodeSelector: { 'topology.kubernetes.io/zone': spec.zone },
            tolerations: [{ key: SCENARIO_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
            terminationGracePeriodSeconds: 2,
            containers: [{ name: 'main', image: spec.image, args: [...spec.args] }],
          },
        },
      });
      try {
        const phase = await waitPodDone(core, podName, timeoutMs);
        return { phase, log: await cluster.podLogs(NAMESPACE, podName, 'main') };
      } finally {
        await core.deleteNamespacedPod({ name: podName, namespace: NAMESPACE }).catch(() => undefined);
      }
    },

    async runLoadPods(name, specs, timeoutMs) {
      const suffix = randomBytes(2).toString('hex');
      const image = cluster.imageFor?.(LOAD_IMAGE) ?? LOAD_IMAGE;
      const pods: V1Pod[] = specs.map((spec, i) => loadPod(`${name}-${i}-${suffix}`, spec, image));
      for (const pod of pods) await core.createNamespacedPod({ namespace: NAMESPACE, body: pod });
      try {
        const results: LoadResult[] = [];
        for (const pod of pods) {
          const podName = pod.metadata?.name ?? '';
          const phaseReached = await waitPodDone(core, podName, timeoutMs);
          const logs = await cluster.podLogs(NAMESPACE, podName, 'load');
          const result = lastResult(logs);
          if (!result)
            throw new Error(
              `load pod ${podName} ended ${phaseReached} without a result; its log ends:\n${logs.slice(-2000)}`,
            );
          results.push(result);
        }
        return results;
      } finally {
        for (const pod of pods) {
          await core
            .deleteNamespacedPod({ name: pod.metadata?.name ?? '', namespace: NAMESPACE })
            .catch(() => undefined);
        }
      }
    },

    async setScenarioTaint(node, on) {
      const current = await core.readNode({ name: node });
      const others = (current.spec?.taints ?? []).filter((t) => t.key !== SCENARIO_TAINT);
      const taints = on ? [...others, { key: SCENARIO_TAINT, value: 'true', effect: 'NoSchedule' }] : others;
      await core.patchNode({ name: node, body: { spec: { taints } } }, mergePatch);
    },

    async scaleDeployment(deployment, replicas) {
      await apps.patchNamespacedDeploymentScale(
        { name: deployment, namespace: NAMESPACE, body: { spec: { replicas } } },
        mergePatch,
      );
    },

    async echoReplicas() {
      const found = await apps.readNamespacedDeployment({ name: 'echo', namespace: NAMESPACE });
      return found.spec?.replicas ?? 1;
    },

    async podsOf(labelSelector) {
      const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector });
      return pods.items.length;
    },

    async waitPodsRunning(labelSelector, n, timeoutMs) {
      const began = performance.now();
      for (;;) {
        const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector });
        if (pods.items.filter((pod) => pod.status?.phase === 'Running').length >= n) return;
        if (performance.now() - began > timeoutMs)
          throw new Error(`fewer than ${n} pods ${labelSelector} Running after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },

    async deletePod(name) {
      await core.deleteNamespacedPod({ name, namespace: NAMESPACE });
    },

    async rolloutRestart(deployment) {
      await apps.patchNamespacedDeployment(
        {
          name: deployment,
          namespace: NAMESPACE,
          body: {
            spec: {
              template: {
                metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } },
              },
            },
          },
        },
        mergePatch,
      );
    },

    async waitDeploymentReady(deployment, timeoutMs) {
      const began = performance.now();
      let last = '';
      for (;;) {
        const found = await apps.readNamespacedDeployment({ name: deployment, namespace: NAMESPACE });
        const want = found.spec?.replicas ?? 1;
        const s = found.status ?? {};
        const done =
          (s.observedGeneration ?? 0) >= (found.metadata?.generation ?? 0) &&
          s.updatedReplicas === want &&
          s.readyReplicas === want &&
          s.availableReplicas === want &&
          (s.replicas ?? 0) === want;
        if (done) return;
        last = `updated ${s.updatedReplicas ?? 0}/${want}, ready ${s.readyReplicas ?? 0}, total ${s.replicas ?? 0}`;
        if (performance.now() - began > timeoutMs)
          throw new Error(`deployment ${deployment} not ready after ${timeoutMs} ms: ${last}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },

    async watchEndpointSlices(service) {
      const events: EndpointSliceEvent[] = [];
      const slices = new Map<string, V1EndpointSlice>();
      const began = performance.now();
      const record = () => {
        const endpoints = [...slices.values()].flatMap((slice) =>
          (slice.endpoints ?? []).map((e) => ({
            pod: e.targetRef?.name ?? '',
            ip: e.addresses[0] ?? '',
            ready: e.conditions?.ready ?? false,
            serving: e.conditions?.serving ?? false,
            terminating: e.conditions?.terminating ?? false,
          })),
        );
        events.push({ atMs: Math.round(performance.now() - began), endpoints });
      };
      const list = await discovery.listNamespacedEndpointSlice({
        namespace: NAMESPACE,
        labelSelector: `kubernetes.io/service-name=${service}`,
      });
      for (const slice of list.items) slices.set(slice.metadata?.name ?? '', slice);
      record();
      const watch = new Watch(kubeConfig);
      const controller = await watch.watch(
        `/apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices`,
        { labelSelector: `kubernetes.io/service-name=${service}`, resourceVersion: list.metadata?.resourceVersion },
        (type, slice: V1EndpointSlice) => {
          if (type === 'DELETED') slices.delete(slice.metadata?.name ?? '');
          else if (type === 'ADDED' || type === 'MODIFIED') slices.set(slice.metadata?.name ?? '', slice);
          else return;
          record();
        },
        () => undefined,
      );
      return { events, stop: () => controller.abort() };
    },

    async close() {
      if (closed) return;
      closed = true;
      await cluster.delete();
    },
  };
}

/** Niceness of the load pods' processes (`skewless load --nice`). */
const LOAD_NICE = -10;

function loadPod(name: string, spec: LoadPodSpec, image: string): V1Pod {
  const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { app: 'load', 'app.kubernetes.io/part-of': 'skewless' } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      nodeSelector: { 'topology.kubernetes.io/zone': spec.zone },
      tolerations: [{ key: SCENARIO_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'load',
          image,
          // Ahead of the pods under test for the CPU (the echo backends run at -5, the cluster's machinery
          // at 0): on a machine where every node shares the same cores, a rollout's starting pods would
          // otherwise delay the generator's own timers, and that delay would count as latency
          // (e2e/README.md, rollout latency). Needs CAP_SYS_NICE in a container.
          args: ['load', `--nice=${LOAD_NICE}`, ...spec.args],
          securityContext: { capabilities: { add: ['SYS_NICE'] } },
          env: [
            { name: 'POD_NAME', ...field('metadata.name') },
            { name: 'POD_NAMESPACE', ...field('metadata.namespace') },
            { name: 'ZONE', ...field("metadata.labels['topology.kubernetes.io/zone']") },
          ],
        },
      ],
    },
  };
}

/** Waits for a pod to end (Succeeded or Failed) and returns that phase; throws after `timeoutMs`. */
async function waitPodDone(core: CoreV1Api, name: string, timeoutMs: number): Promise<string> {
  const began = performance.now();
  for (;;) {
    const pod = await core.readNamespacedPod({ name, namespace: NAMESPACE });
    const phase = pod.status?.phase ?? 'Pending';
    if (phase === 'Succeeded' || phase === 'Failed') return phase;
    if (performance.now() - began > timeoutMs) {
      const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
      throw new Error(
        `pod ${name} still ${phase} after ${timeoutMs} ms${waiting ? ` (${waiting.reason}: ${waiting.message})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The load client prints its result as the last JSON line with `totals` on stdout; logs are JSON too. */
export function lastResult(log: string): LoadResult | undefined {
  const lines = log.trimEnd().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{') || !line.includes('"totals"')) continue;
    try {
      return JSON.parse(line) as LoadResult;
    } catch {}
  }
  return undefined;
}
