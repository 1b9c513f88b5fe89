/**
 * Our node agent: what a kubelet does for one node of the local cluster, against the real API server
 * and under the node's own identity (`system:node:<name>`, so the Node authorizer and NodeRestriction
 * apply to it as to a kubelet). It registers the Node with its zone labels, renews its Lease, watches
 * the pods bound to it and runs each with a PodRunner inside the node's network namespace.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { ResilientInformer } from '@skewless/control-plane';
import type { Logger } from '@skewless/shared';
import { startKubeletServer } from './kubelet-server.ts';
import { PodAddressPool } from './pod-network.ts';
import { PodRunner } from './pod-runner.ts';
import type { PodInputs } from './pod-spec.ts';

export interface NodeAgentConfig {
  readonly nodeName: string;
  readonly zone: string;
  readonly region: string;
  /** The node's network namespace (the agent runs inside it) and its addresses. */
  readonly netns: string;
  readonly hostIP: string;
  readonly podCidr: string;
  readonly gateway: string;
  /** Prefix of every pod namespace name (`sk-<run>-`). */
  readonly netnsPrefix: string;
  /** Pod volumes go under `<stateDir>/pods/<uid>`. */
  readonly stateDir: string;
  readonly logDir: string;
  readonly kubernetesVersion: string;
  /** The kubelet's `--cluster-dns` (the `kube-dns` ClusterIP) and `--cluster-domain`. */
  readonly clusterDNS: readonly string[];
  readonly clusterDomain: string;
  /** The kubelet's `--resolv-conf`: what `dnsPolicy: Default` pods get (default /etc/resolv.conf). */
  readonly resolvConf?: string;
  readonly restartBackoff: { readonly baseMs: number; readonly maxMs: number };
  /** The kubelet API (container logs) on `hostIP:port`, reported in the Node's daemonEndpoints. */
  readonly kubeletServer: {
    readonly port: number;
    readonly certFile: string;
    readonly keyFile: string;
    readonly clientCaFile: string;
    /** The API server's kubelet client user (`--kubelet-client-certificate`'s CN). */
    readonly allowedUsers: readonly string[];
  };
}

const LEASE_SECONDS = 40;
const LEASE_RENEW_MS = 10_000;
const NODE_STATUS_MS = 60_000;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface RunningNodeAgent {
  /** Kills every pod (the cluster is going away) and stops watching. */
  stop(): Promise<void>;
}

export async function startNodeAgent(
  config: NodeAgentConfig,
  kubeConfig: KubeConfig,
  logger: Logger,
): Promise<RunningNodeAgent> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  const log = logger.child({ node: config.nodeName });
  const pool = new PodAddressPool(config.podCidr);
  const runners = new Map<string, PodRunner>();
  const timers: NodeJS.Timeout[] = [];

  const kubeletServer = await startKubeletServer({
    ...config.kubeletServer,
    nodeName: config.nodeName,
    host: config.hostIP,
    logger: log,
    findPod(namespace, name) {
      // The newest runner of that name: one may still be terminating when its replacement starts.
      return [...runners.values()].reverse().find((r) => r.namespace === namespace && r.name === name);
    },
  });
  await registerNode(core, config);
  await patchNodeStatus(core, config);
  await renewLease(coordination, config);
  timers.push(
    setInterval(
      () => renewLease(coordination, config).catch((e: Error) => log.warn({ err: e.message }, 'lease renewal failed')),
      LEASE_RENEW_MS,
    ),
    setInterval(
      () => patchNodeStatus(core, config).catch((e: Error) => log.warn({ err: e.message }, 'node status failed')),
      NODE_STATUS_MS,
    ),
  );
  log.info({ zone: config.zone, ip: config.hostIP, podCidr: config.podCidr }, 'node registered');

  const inputs = podInputs(core);
  const fieldSelector = `spec.nodeName=${config.nodeName}`;
  const onPod = (event: 'add' | 'update' | 'delete', pod: V1Pod) => {
    const uid = pod.metadata?.uid ?? '';
    const runner = runners.get(uid);
    if (event === 'delete') {
      void runner?.kill();
      return;
    }
    if (runner) {
      runner.update(pod);
      return;
    }
    // A pod already finished or already being deleted before we knew it has nothing left to run.
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    if (pod.metadata?.deletionTimestamp) {
      void deletePod(core, pod).catch(() => undefined);
      return;
    }
    const ip = pool.allocate();
    const shortUid = uid.replaceAll('-', '').slice(0, 10);
    const podDir = join(config.stateDir, 'pods', uid);
    mkdirSync(podDir, { recursive: true });
    const created = new PodRunner(pod, {
      logger: log,
      inputs,
      hostIP: config.hostIP,
      podDir,
      logDir: config.logDir,
      network: {
        nodeNetns: config.netns,
        podNetns: `${config.netnsPrefix}p${shortUid}`,
        hostInterface: `v${shortUid}`,
        ip,
        gateway: config.gateway,
      },
      restartBackoff: config.restartBackoff,
      dns: {
        clusterDNS: config.clusterDNS,
        clusterDomain: config.clusterDomain,
        hostResolvConf: config.resolvConf ?? '/etc/resolv.conf',
      },
      writeStatus: (current, status) =>
        core
          .patchNamespacedPodStatus(
            { name: current.metadata?.name ?? '', namespace: current.metadata?.namespace ?? '', body: { status } },
            mergePatch,
          )
          .then(() => undefined),
      deletePod: (current) => deletePod(core, current),
      onGone: () => {
        runners.delete(uid);
        pool.release(ip);
      },
    });
    runners.set(uid, created);
    void created.start().then(() => {
      // The pod may have been marked for deletion while it started.
      created.update(pod);
    });
  };

  const informer = new ResilientInformer<V1Pod>({
    name: `pods on ${config.nodeName}`,
    kubeConfig,
    path: `/api/v1/pods?fieldSelector=${encodeURIComponent(fieldSelector)}`,
    list: () => core.listPodForAllNamespaces({ fieldSelector }),
    backoff: { initialMs: 200, maxMs: 5000 },
    now: Date.now,
    logger: log,
    onEvent: onPod,
    onSyncChange: () => undefined,
  });
  informer.start();

  return {
    async stop() {
      for (const timer of timers) clearInterval(timer);
      await informer.stop();
      await kubeletServer.close();
      await Promise.all([...runners.values()].map((runner) => runner.kill()));
      log.info('node agent stopped');
    },
  };
}

async function registerNode(core: CoreV1Api, config: NodeAgentConfig): Promise<void> {
  const labels = {
    'kubernetes.io/hostname': config.nodeName,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
    'topology.kubernetes.io/zone': config.zone,
    'topology.kubernetes.io/region': config.region,
  };
  const node: V1Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: config.nodeName, labels },
    spec: { podCIDR: config.podCidr, podCIDRs: [config.podCidr] },
  };
  try {
    await core.createNode({ body: node });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
    await core.patchNode({ name: config.nodeName, body: { metadata: { labels } } }, mergePatch);
  }
}

async function patchNodeStatus(core: CoreV1Api, config: NodeAgentConfig): Promise<void> {
  const now = new Date();
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  const resources = { cpu: '8', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  await core.patchNodeStatus(
    {
      name: config.nodeName,
      body: {
        status: {
          capacity: resources,
          allocatable: resources,
          addresses: [
            { type: 'InternalIP', address: config.hostIP },
            { type: 'Hostname', address: config.nodeName },
          ],
          // Wire names: this body goes out as it is, not through the client's serializer.
          daemonEndpoints: { kubeletEndpoint: { Port: config.kubeletServer.port } },
          conditions: [
            condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'skewless node agent'),
            condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'skewless node agent'),
            condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'skewless node agent'),
            condition('Ready', 'True', 'KubeletReady', 'skewless node agent is posting ready status'),
          ],
          nodeInfo: {
            machineID: config.nodeName,
            systemUUID: config.nodeName,
            bootID: config.nodeName,
            kernelVersion: '',
            osImage: 'skewless local node',
            containerRuntimeVersion: 'skewless-local://0.1.0',
            kubeletVersion: config.kubernetesVersion,
            kubeProxyVersion: '',
            operatingSystem: 'linux',
            architecture: process.arch === 'x64' ? 'amd64' : process.arch,
          },
        },
      },
    },
    mergePatch,
  );
}

async function renewLease(coordination: CoordinationV1Api, config: NodeAgentConfig): Promise<void> {
  // Server-side apply creates the Lease the first time and renews it after. renewTime is a MicroTime:
  // the API server wants six fractional digits, which a serialized Date does not have.
  const renewTime = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  await coordination.patchNamespacedLease(
    {
      name: config.nodeName,
      namespace: 'kube-node-lease',
      fieldManager: 'skewless-node-agent',
      force: true,
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: config.nodeName, namespace: 'kube-node-lease' },
        spec: { holderIdentity: config.nodeName, leaseDurationSeconds: LEASE_SECONDS, renewTime },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
  );
}

async function deletePod(core: CoreV1Api, pod: V1Pod): Promise<void> {
  try {
    await core.deleteNamespacedPod({
      name: pod.metadata?.name ?? '',
      namespace: pod.metadata?.namespace ?? '',
      gracePeriodSeconds: 0,
      body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid ?? '' } },
    });
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code !== 404 && code !== 409) throw error;
  }
}

function podInputs(core: CoreV1Api): PodInputs {
  const notFoundAsUndefined = <T>(promise: Promise<T>): Promise<T | undefined> =>
    promise.catch((error: { code?: number }) => {
      if (error.code === 404) return undefined;
      throw error;
    });
  return {
    readConfigMap: (namespace, name) => notFoundAsUndefined(core.readNamespacedConfigMap({ name, namespace })),
    readSecret: (namespace, name) => notFoundAsUndefined(core.readNamespacedSecret({ name, namespace })),
    async requestToken(pod, audience, expirationSeconds) {
      const response = await core.createNamespacedServiceAccountToken({
        name: pod.spec?.serviceAccountName ?? 'default',
        namespace: pod.metadata?.namespace ?? 'default',
        body: {
          spec: {
            audiences: audience ? [audience] : [],
            expirationSeconds,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid },
          },
        },
      });
      const token = response.status?.token;
      if (!token) throw new Error('TokenRequest returned no token');
      return {
        token,
        expiresAt: new Date(response.status?.expirationTimestamp ?? Date.now() + expirationSeconds * 1000),
      };
    },
  };
}
