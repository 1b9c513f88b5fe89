/**
 * The embedded `local` cluster: a real Kubernetes control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler) on loopback, one virtual node per zone — a network namespace
 * with our node agent and a real kube-proxy in iptables mode — and pods as processes in namespaces of
 * their own. No Docker, no registry: images map to local commands (node-agent/image-table.ts).
 *
 * Pods reach the API server the way they would anywhere: the `kubernetes` Service's ClusterIP, DNATed
 * by kube-proxy to 172.31.0.1:<port> on the underlay, where a socat relay carries the connection over a
 * unix socket to the API server's loopback port. Nothing listens on or routes to the machine's network.
 * Names resolve the way they would anywhere too: CoreDNS in kube-system behind `kube-dns` (cluster-dns.ts),
 * which every node agent hands its pods as their nameserver.
 *
 * The API server reaches the nodes the other way round, as behind a konnectivity server: its egress
 * selector sends `cluster` traffic to an HTTP CONNECT proxy on a unix socket, running in the underlay
 * (node-agent/apiserver-egress.ts), which dials the node's InternalIP:10250 — the node agent's kubelet API
 * (`kubectl logs`), TLS end to end with certificates from the cluster CA.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createLogger, type Logger } from '@skewless/shared';
import { freePort } from '../apiserver/free-port.ts';
import { type LocalApiServer, startLocalApiServer } from '../apiserver/local-apiserver.ts';
import { logTail } from '../apiserver/log-tail.ts';
import { type ProcessGroup, startProcessGroup } from '../apiserver/process-group.ts';
import { toolPath } from '../apiserver/tool-path.ts';
import { waitReady } from '../apiserver/wait-ready.ts';
import { IMAGE_TABLE, imageRepository } from '../node-agent/image-table.ts';
import type { NodeAgentConfig } from '../node-agent/node-agent.ts';
import { installClusterDns } from './cluster-dns.ts';
import {
  CLUSTER_DIR_PREFIX,
  type ClusterRecord,
  clusterRecordPath,
  destroyCluster,
  indexRun,
  sweepClusters,
} from './cluster-leftovers.ts';
import {
  CLUSTER_CIDR,
  CLUSTER_DNS_IP,
  CLUSTER_DOMAIN,
  type ClusterNetwork,
  createClusterNetwork,
  KUBERNETES_SERVICE_IP,
  netnsPrefix,
  planClusterNetwork,
  SERVICE_CIDR,
  UNDERLAY_GATEWAY,
} from './cluster-network.ts';
import {
  type ClusterDriver,
  type ClusterMemory,
  type ClusterSpec,
  type ConfiguredCluster,
  DEFAULT_ZONES,
  type StartedCluster,
  timed,
} from './driver.ts';
import { listNetns, netnsPids } from './netns.ts';
import { type ClusterPki, createClusterPki, kubeconfigYaml } from './pki.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
const AGENT_MAIN = join(REPO_ROOT, 'testbed', 'src', 'node-agent', 'main.ts');
const EGRESS_MAIN = join(REPO_ROOT, 'testbed', 'src', 'node-agent', 'apiserver-egress.ts');
/** The kubelet port; each node namespace has its own, so every node agent uses the usual one. */
const KUBELET_PORT = 10250;
/** The CN of the API server's `--kubelet-client-certificate`, the one user the node agents let in. */
const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';
const KUBERNETES_VERSION = 'v1.35.4';

const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'namespace-controller',
  'garbage-collector-controller',
  'pod-garbage-collector-controller',
  'job-controller',
  'ttl-after-finished-controller',
  'disruption-controller',
  // Lifts the not-ready taint new Nodes get at admission once their Ready condition and Lease say so.
  'node-lifecycle-controller',
];

export interface LocalClusterOptions {
  /** Parent of the cluster dirs; default `<repo>/.cluster`. Crashed runs' dirs here are cleared at start. */
  readonly parentDir?: string;
  /** The cluster outlives this process (`make cluster-up`), until `make cluster-down`. */
  readonly keep?: boolean;
  readonly logger?: Logger;
  /** Crash-loop back-off of the node agents (a kubelet uses 10 s doubling to 5 min). */
  readonly restartBackoff?: { baseMs: number; maxMs: number };
  /** Print each step and its time on stderr (default true). */
  readonly progress?: boolean;
}

export function defaultClusterParent(): string {
  return join(REPO_ROOT, '.cluster');
}

export function localClusterDriver(options: LocalClusterOptions = {}): ClusterDriver {
  return {
    kind: 'local',
    configure(spec: ClusterSpec): ConfiguredCluster {
      const zones = spec.zones.length > 0 ? spec.zones : [...DEFAULT_ZONES];
      const problems: string[] = [];
      for (const zone of zones) {
        if (!/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(zone)) problems.push(`zone "${zone}" is not a DNS label`);
      }
      if (new Set(zones).size !== zones.length) problems.push('zones must be distinct');
      if (zones.length > 50) problems.push('at most 50 zones');
      if (problems.length > 0) throw new Error(`local cluster: ${problems.join('; ')}`);
      const steps = [
        'clear leftovers',
        'certificates',
        'network namespaces',
        'etcd + kube-apiserver',
        'API server relays (in and out)',
        'kube-controller-manager + kube-scheduler',
        `nodes (${zones.length}): node agents + kube-proxy`,
        'cluster ready',
        'cluster DNS (CoreDNS)',
      ];
      return { kind: 'local', steps, start: () => startLocalCluster({ ...spec, zones }, steps, options) };
    },
  };
}

async function startLocalCluster(
  spec: ClusterSpec,
  steps: readonly string[],
  options: LocalClusterOptions,
): Promise<StartedCluster> {
  const logger = options.logger ?? createLogger('local-cluster');
  const quiet = options.progress === false;
  const parent = options.parentDir ?? defaultClusterParent();
  const timings: Record<string, number> = {};
  const began = performance.now();
  const step = <T>(index: number, run: () => Promise<T>) => timed(steps[index] ?? `step ${index}`, run, timings, quiet);
  mkdirSync(parent, { recursive: true });

  await step(0, () => sweepClusters(parent, logger, { includeKept: false }));
  const runId = randomBytes(3).toString('hex');
  const dir = join(parent, `${CLUSTER_DIR_PREFIX}${runId}`);
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const socket = join(tmpdir(), `sk-${runId}-apiserver.sock`);
  // In the run dir (removed with it) unless that path is too long for a unix socket.
  const egressSocket = [join(dir, 'apiserver-egress.sock'), join(tmpdir(), `sk-${runId}-egress.sock`)].find(
    (path) => Buffer.byteLength(path) < 100,
  ) as string;
  const record: ClusterRecord = { runId, ownerPid: process.pid, kept: options.keep ?? false, groups: [], socket };
  const saveRecord = () => writeFileSync(clusterRecordPath(dir), JSON.stringify(record, null, 2));
  saveRecord();
  indexRun(runId, dir);
  const groups: { name: string; group: ProcessGroup }[] = [];
  const spawnGroup = (name: string, command: string, args: string[], recordExe?: string) => {
    const group = startProcessGroup({ command, args, logFile: join(logDir, `${name}.log`) });
    groups.push({ name, group });
    if (recordExe) {
      record.groups.push({ pid: group.pid, exe: recordExe });
      saveRecord();
    }
    return group;
  };
  const nodeNames = spec.zones.map((zone) => `local-${zone}`);
  const network = planClusterNetwork(runId, nodeNames);
  let apiserver: LocalApiServer | undefined;
  let deleted = false;

  const teardown = async () => {
    if (deleted) return;
    deleted = true;
    const stopBegan = performance.now();
    // Node agents first: they stop their pods (still able to reach the API server meanwhile).
    const agents = groups.filter((g) => g.name.startsWith('node-agent-'));
    await Promise.all(agents.map((g) => g.group.stop(5000)));
    await Promise.all(groups.filter((g) => !agents.includes(g)).map((g) => g.group.stop(3000)));
    await apiserver?.stop();
    await destroyCluster(dir, runId, { ...record, groups: [] }, logger);
    if (!quiet)
      process.stderr.write(
        `[cluster] ✓ deleted ${runId} in ${((performance.now() - stopBegan) / 1000).toFixed(1)} s\n`,
      );
  };

  try {
    const pki = await step(1, () =>
      createClusterPki(join(dir, 'pki'), {
        apiserverIps: ['127.0.0.1', UNDERLAY_GATEWAY, KUBERNETES_SERVICE_IP],
        apiserverNames: [
          'localhost',
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          'kubernetes.default.svc.cluster.local',
        ],
      }),
    );
    await step(2, () => createClusterNetwork(network));
    const kubeletClient = await pki.issueClient('apiserver-kubelet-client', { user: KUBELET_CLIENT_USER, groups: [] });
    apiserver = await step(3, () =>
      startLocalApiServer({
        dir,
        logger,
        cluster: {
          kubelet: {
            clientCertFile: kubeletClient.certFile,
            clientKeyFile: kubeletClient.keyFile,
            caFile: pki.caFile,
            egressProxySocket: egressSocket,
          },
          caFile: pki.caFile,
          tlsCertFile: pki.apiserver.certFile,
          tlsKeyFile: pki.apiserver.keyFile,
          serviceAccountKeyFile: pki.serviceAccountKeyFile,
          serviceAccountPublicKeyFile: pki.serviceAccountPublicKeyFile,
          advertiseAddress: UNDERLAY_GATEWAY,
          serviceClusterIpRange: SERVICE_CIDR,
        },
      }),
    );
    const api = apiserver;
    const port = Number(new URL(api.url).port);
    const admin = await pki.issueClient('admin', { user: 'skewless-admin', groups: ['system:masters'] });
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(api.url, pki.caFile, admin), { mode: 0o600 });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);

    await step(4, () => startRelays(network, port, socket, egressSocket, spawnGroup));
    await step(5, () => startControllers(pki, api.url, dir, spawnGroup, logger));
    await step(6, () => startNodes(spec, network, pki, port, dir, logDir, options, spawnGroup, kubeConfig, logger));
    await step(7, () => waitClusterReady(kubeConfig, logger));
    await step(8, () => installClusterDns(kubeconfigPath, kubeConfig, logger));
    const bootS = Math.round((performance.now() - began) / 100) / 10;
    timings.total = bootS;
    if (!quiet) {
      process.stderr.write(
        `[cluster] local cluster ${runId} ready in ${bootS.toFixed(1)} s — export KUBECONFIG=${kubeconfigPath}\n`,
      );
    }
    return {
      kind: 'local',
      name: `local-${runId}`,
      zones: spec.zones,
      kubeconfigPath,
      kubeConfig,
      timings,
      async loadImages(images) {
        const unknown = images.filter((image) => !IMAGE_TABLE.has(imageRepository(image)));
        if (unknown.length > 0) {
          throw new Error(
            `images not in the local node agent's image table: ${unknown.join(', ')} (known: ${[...IMAGE_TABLE.keys()].join(', ')})`,
          );
        }
      },
      async podLogs(namespace, pod, container) {
        const file = join(logDir, `${namespace}_${pod}_${container}.log`);
        if (!existsSync(file))
          throw new Error(`no log for ${namespace}/${pod}/${container} (container never started?)`);
        return readFileSync(file, 'utf8');
      },
      memory: () =>
        clusterMemory(network, [...groups.map((g) => ({ name: g.name, pid: g.group.pid })), ...api.processGroups()]),
      async collectLogs(target) {
        mkdirSync(target, { recursive: true });
        const written: string[] = [];
        const sources = [
          logDir,
          ...readdirSync(dir)
            .filter((n) => n.startsWith('skewless-apiserver-'))
            .map((n) => join(dir, n)),
        ];
        for (const source of sources) {
          for (const name of readdirSync(source).filter((n) => n.endsWith('.log'))) {
            cpSync(join(source, name), join(target, name));
            written.push(join(target, name));
          }
        }
        return written;
      },
      delete: teardown,
    };
  } catch (error) {
    if (spec.keepOnFailure) {
      process.stderr.write(`[cluster] kept after the failure for debugging: ${dir} (make cluster-down removes it)\n`);
      record.kept = true;
      saveRecord();
    } else {
      await teardown().catch((cleanupError: Error) => logger.error({ err: cleanupError.message }, 'teardown failed'));
    }
    throw error;
  }
}

type SpawnGroup = (name: string, command: string, args: string[], recordExe?: string) => ProcessGroup;

/**
 * In: pod network → 172.31.0.1:<port> (underlay) → unix socket → 127.0.0.1:<port> (the API server).
 * Out: the API server → unix socket → CONNECT proxy in the underlay → a node's InternalIP.
 */
async function startRelays(
  network: ClusterNetwork,
  port: number,
  socket: string,
  egressSocket: string,
  spawnGroup: SpawnGroup,
): Promise<void> {
  const egress = spawnGroup('apiserver-egress', 'ip', [
    'netns',
    'exec',
    network.underlayNetns,
    process.execPath,
    EGRESS_MAIN,
    egressSocket,
  ]);
  const socat = '/usr/bin/socat';
  if (!existsSync(socat)) throw new Error("socat is missing: install Debian's socat (make tools)");
  const hostSide = spawnGroup(
    'relay-host',
    socat,
    [`UNIX-LISTEN:${socket},fork,mode=600,unlink-early`, `TCP:127.0.0.1:${port}`],
    socat,
  );
  await waitFor('the host side of the API server relay', () => existsSync(socket), hostSide);
  const underlaySide = spawnGroup('relay-underlay', 'ip', [
    'netns',
    'exec',
    network.underlayNetns,
    socat,
    `TCP-LISTEN:${port},bind=${UNDERLAY_GATEWAY},fork,reuseaddr`,
    `UNIX-CONNECT:${socket}`,
  ]);
  await new Promise((r) => setTimeout(r, 100));
  if (underlaySide.hasExited()) throw new Error('the underlay side of the API server relay exited at once');
  await waitFor('the API server egress proxy', () => existsSync(egressSocket), egress);
}

async function startControllers(
  pki: ClusterPki,
  server: string,
  dir: string,
  spawnGroup: SpawnGroup,
  logger: Logger,
): Promise<void> {
  const kcmExe = toolPath('kube-controller-manager');
  const schedulerExe = toolPath('kube-scheduler');
  const kcmConfig = pki.writeKubeconfig(
    'kube-controller-manager',
    server,
    await pki.issueClient('kube-controller-manager', { user: 'system:kube-controller-manager', groups: [] }),
  );
  const schedulerConfig = pki.writeKubeconfig(
    'kube-scheduler',
    server,
    await pki.issueClient('kube-scheduler', { user: 'system:kube-scheduler', groups: [] }),
  );
  const kcmPort = await freePort();
  const schedulerPort = await freePort();
  const delegated = (kubeconfig: string) => [
    // No delegated authn/authz kubeconfigs: only /healthz is used, which is always allowed.
    `--kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
  ];
  const kcm = spawnGroup(
    'kube-controller-manager',
    kcmExe,
    [
      ...delegated(kcmConfig),
      `--secure-port=${kcmPort}`,
      `--controllers=${CONTROLLERS.join(',')}`,
      `--service-account-private-key-file=${pki.serviceAccountKeyFile}`,
      `--root-ca-file=${pki.caFile}`,
      '--use-service-account-credentials=true',
      `--cluster-cidr=${CLUSTER_CIDR}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--cluster-name=skewless-local',
      // Endpoint changes reach EndpointSlices at once rather than batched for a second.
      '--endpointslice-updates-batch-period=0s',
    ],
    kcmExe,
  );
  const scheduler = spawnGroup(
    'kube-scheduler',
    schedulerExe,
    [...delegated(schedulerConfig), `--secure-port=${schedulerPort}`],
    schedulerExe,
  );
  const healthz = (port: number) => () => httpsHealthz(port);
  await Promise.all([
    waitReady({
      what: 'kube-controller-manager /healthz',
      process: kcm,
      timeoutMs: 60_000,
      logger,
      probe: healthz(kcmPort),
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${logTail(join(dir, 'logs', 'kube-controller-manager.log'))}`);
    }),
    waitReady({
      what: 'kube-scheduler /healthz',
      process: scheduler,
      timeoutMs: 60_000,
      logger,
      probe: healthz(schedulerPort),
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${logTail(join(dir, 'logs', 'kube-scheduler.log'))}`);
    }),
  ]);
}

async function startNodes(
  spec: ClusterSpec,
  network: ClusterNetwork,
  pki: ClusterPki,
  apiserverPort: number,
  dir: string,
  logDir: string,
  options: LocalClusterOptions,
  spawnGroup: SpawnGroup,
  kubeConfig: KubeConfig,
  logger: Logger,
): Promise<void> {
  const proxyExe = toolPath('kube-proxy');
  const underlayServer = `https://${UNDERLAY_GATEWAY}:${apiserverPort}`;
  const proxyKubeconfig = pki.writeKubeconfig(
    'kube-proxy',
    underlayServer,
    await pki.issueClient('kube-proxy', { user: 'system:kube-proxy', groups: [] }),
  );
  const agents: ProcessGroup[] = [];
  for (const [i, node] of network.nodes.entries()) {
    const zone = spec.zones[i] ?? '';
    const credentials = await pki.issueClient(`node-${node.name}`, {
      user: `system:node:${node.name}`,
      groups: ['system:nodes'],
    });
    const serving = await pki.issueServing(
      `kubelet-${node.name}`,
      { user: `system:node:${node.name}`, groups: ['system:nodes'] },
      { ips: [node.ip], names: [node.name] },
    );
    const agentConfig = {
      nodeName: node.name,
      zone,
      region: spec.region,
      netns: node.netns,
      hostIP: node.ip,
      podCidr: node.podCidr,
      gateway: node.gateway,
      netnsPrefix: netnsPrefix(network.runId),
      stateDir: join(dir, 'nodes', node.name),
      logDir,
      kubernetesVersion: KUBERNETES_VERSION,
      clusterDNS: [CLUSTER_DNS_IP],
      clusterDomain: CLUSTER_DOMAIN,
      restartBackoff: options.restartBackoff ?? { baseMs: 1000, maxMs: 30_000 },
      kubeconfigPath: pki.writeKubeconfig(`node-${node.name}`, underlayServer, credentials),
      kubeletServer: {
        port: KUBELET_PORT,
        certFile: serving.certFile,
        keyFile: serving.keyFile,
        clientCaFile: pki.caFile,
        allowedUsers: [KUBELET_CLIENT_USER],
      },
    } satisfies NodeAgentConfig & { kubeconfigPath: string };
    const agentConfigPath = join(dir, `agent-${node.name}.json`);
    writeFileSync(agentConfigPath, JSON.stringify(agentConfig, null, 2));
    // nsenter --net: the node's network, but the machine's mount namespace, so the pod namespaces the
    // agent creates (ip netns add) are visible to this driver's teardown.
    agents.push(
      spawnGroup(`node-agent-${node.name}`, 'nsenter', [
        `--net=/run/netns/${node.netns}`,
        process.execPath,
        AGENT_MAIN,
        agentConfigPath,
      ]),
    );
    const proxyConfigPath = join(dir, `kube-proxy-${node.name}.yaml`);
    writeFileSync(proxyConfigPath, kubeProxyConfig(node.name, proxyKubeconfig));
    spawnGroup(`kube-proxy-${node.name}`, 'ip', ['netns', 'exec', node.netns, proxyExe, `--config=${proxyConfigPath}`]);
  }
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await Promise.all(
    network.nodes.map((node, i) =>
      waitReady({
        what: `node ${node.name} Ready`,
        process: agents[i] as ProcessGroup,
        timeoutMs: 60_000,
        logger,
        intervalMs: 100,
        probe: async () => {
          const found = await core.readNode({ name: node.name }).catch(() => undefined);
          const ready = found?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
          return ready || 'not registered yet';
        },
      }).catch((error: Error) => {
        throw new Error(`${error.message}\n${logTail(join(logDir, `node-agent-${node.name}.log`))}`);
      }),
    ),
  );
}

function kubeProxyConfig(nodeName: string, kubeconfig: string): string {
  // JSON is YAML; kube-proxy reads either.
  return JSON.stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    mode: 'iptables',
    clusterCIDR: CLUSTER_CIDR,
    hostnameOverride: nodeName,
    // Each node namespace has its own loopback, so every kube-proxy can use the usual ports.
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // Conntrack limits are machine-wide sysctls: leave them alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    // Kubernetes' defaults. minSyncPeriod 1s batches EndpointSlice changes into at most one
    // iptables-restore per second per node: with 0s, every change of a rollout (~46 for nine pods)
    // made all three kube-proxies rewrite their rules at once (~40 ms each).
    iptables: { minSyncPeriod: '1s', syncPeriod: '30s' },
  });
}

/** The default ServiceAccount and the root CA ConfigMap exist: pods can be admitted and mount their token. */
async function waitClusterReady(kubeConfig: KubeConfig, logger: Logger): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const began = performance.now();
  for (;;) {
    const sa = await core
      .readNamespacedServiceAccount({ name: 'default', namespace: 'default' })
      .catch(() => undefined);
    const ca = await core
      .readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: 'default' })
      .catch(() => undefined);
    if (sa && ca) return;
    if (performance.now() - began > 60_000)
      throw new Error('the default ServiceAccount or kube-root-ca.crt never appeared');
    if (performance.now() - began > 5000) logger.info('waiting for the default ServiceAccount and kube-root-ca.crt');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function httpsHealthz(port: number): Promise<true | string> {
  return new Promise((resolve) => {
    // The components' self-signed serving certificates: only whether /healthz answers matters here.
    const req = request(
      { host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200 || `HTTP ${res.statusCode}`);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error) => resolve(error.message));
    req.end();
  });
}

async function waitFor(what: string, check: () => boolean, group: ProcessGroup): Promise<void> {
  const began = performance.now();
  while (!check()) {
    if (group.hasExited()) throw new Error(`${what} exited: ${JSON.stringify(await group.exited)}`);
    if (performance.now() - began > 10_000) throw new Error(`${what} not up after 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * RSS of every process of the cluster: the groups started on the host side (etcd, kube-apiserver,
 * controllers, relay) and whatever runs inside the cluster's namespaces (node agents, kube-proxies, pods).
 */
async function clusterMemory(
  network: ClusterNetwork,
  groups: readonly { name: string; pid: number }[],
): Promise<ClusterMemory> {
  const byComponent: Record<string, number> = {};
  let processes = 0;
  const add = (component: string, pid: number) => {
    const kb = rssKb(pid);
    if (kb === undefined) return;
    processes += 1;
    byComponent[component] = (byComponent[component] ?? 0) + kb / 1024;
  };
  const leaders = new Map(groups.map((g) => [g.pid, g.name.replace(/-local-.*$/, '')]));
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const group = processGroupOf(pid);
    const name = group === undefined ? undefined : leaders.get(group);
    // Host-side groups only: node agents and kube-proxies are counted through their namespaces below.
    const inNetns = ['node-agent', 'kube-proxy', 'relay-underlay', 'apiserver-egress'].some((n) => name?.startsWith(n));
    if (name && !inNetns) add(name, pid);
  }
  const nodeNetns = new Set(network.nodes.map((node) => node.netns));
  for (const netns of await listNetns(netnsPrefix(network.runId))) {
    for (const pid of await netnsPids(netns)) {
      const exe = exeName(pid);
      if (netns === network.underlayNetns) add(exe === 'socat' ? 'relay' : 'apiserver-egress', pid);
      else if (nodeNetns.has(netns)) add(exe === 'kube-proxy' ? 'kube-proxy' : 'node-agents', pid);
      else add('pods', pid);
    }
  }
  const rounded = Object.fromEntries(Object.entries(byComponent).map(([k, v]) => [k, Math.round(v)]));
  const rssMb = Math.round(Object.values(byComponent).reduce((a, b) => a + b, 0));
  return { rssMb, processes, byComponentMb: rounded };
}

function rssKb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function processGroupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) in parentheses: state ppid pgrp …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]);
  } catch {
    return undefined;
  }
}

function exeName(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`).split('/').pop() ?? '';
  } catch {
    return '';
  }
}
