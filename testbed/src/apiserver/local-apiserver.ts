/**
 * A real kube-apiserver on its own etcd, on loopback, for tests and the local cluster driver.
 * Everything lives in one temp dir (keys, certs, etcd data, logs, kubeconfig) removed by `stop()`.
 * The API server can be stopped and restarted on the same port and data, to test what clients do
 * through an API-server restart.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger, type Logger } from '@skewless/shared';
import { type ApiServerCredentials, writeApiServerCredentials } from './apiserver-credentials.ts';
import { freePort } from './free-port.ts';
import { RunDirRecord, sweepLeftovers } from './leftovers.ts';
import { startLocalEtcd } from './local-etcd.ts';
import { logTail } from './log-tail.ts';
import { type ProcessGroup, startProcessGroup } from './process-group.ts';
import { toolPath } from './tool-path.ts';
import { waitReady } from './wait-ready.ts';

const DIR_PREFIX = 'skewless-apiserver-';

export interface LocalApiServerOptions {
  /** Parent of the per-run temp dir (default: the OS temp dir). */
  readonly dir?: string;
  readonly logger?: Logger;
  /** Per start of etcd or kube-apiserver; generous because CI shares 2 cores with Go builds. */
  readonly startTimeoutMs?: number;
  /** Run as the API server of a whole cluster (the local cluster driver) rather than a bare test server. */
  readonly cluster?: ApiServerClusterMode;
}

/**
 * What changes when the API server fronts a cluster: a CA-signed serving certificate and client-certificate
 * authentication (each component is its own user), the Node authorizer and NodeRestriction for the node
 * agents, ServiceAccount admission, and the `kubernetes` Service pointing at an address pods can reach.
 */
export interface ApiServerClusterMode {
  readonly caFile: string;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
  /** Written into the `kubernetes` Service's endpoints; the cluster network forwards it to the loopback port. */
  readonly advertiseAddress: string;
  readonly serviceClusterIpRange: string;
  /** How it reaches the kubelets (for logs); without it, `kubectl logs` has nowhere to go. */
  readonly kubelet?: ApiServerKubeletAccess;
}

export interface ApiServerKubeletAccess {
  /** `--kubelet-client-certificate`/`-key`: the identity the kubelets let in. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** `--kubelet-certificate-authority`: the kubelets' serving certificates are verified against it. */
  readonly caFile: string;
  /** An HTTP CONNECT proxy on a unix socket that reaches the nodes' InternalIPs (egress selection `cluster`). */
  readonly egressProxySocket: string;
}

export interface LocalApiServer {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  readonly kubeconfigPath: string;
  /** Admin (system:masters) over TLS verified against the API server's own CA. */
  readonly kubeConfig: KubeConfig;
  /** The per-run temp dir, with etcd.log and kube-apiserver.log. */
  readonly dir: string;
  /** Milliseconds from spawning kube-apiserver to a passing /readyz, for the first start. */
  readonly startupMs: number;
  /** Leader PIDs of the etcd and kube-apiserver groups started so far (for memory accounting). */
  processGroups(): { name: string; pid: number }[];
  /** SIGTERM to the API server's group (etcd keeps running); resolves once it has exited. */
  stopApiServer(): Promise<void>;
  /** Starts the API server again on the same port, etcd and certificates; resolves with ms to /readyz. */
  restartApiServer(): Promise<number>;
  /** Stops both processes and removes the temp dir. Safe to call twice, and after a failed restart. */
  stop(): Promise<void>;
}

export async function startLocalApiServer(options: LocalApiServerOptions = {}): Promise<LocalApiServer> {
  const logger = options.logger ?? createLogger('local-apiserver');
  const timeoutMs = options.startTimeoutMs ?? 90_000;
  const parent = options.dir ?? tmpdir();
  sweepLeftovers(parent, DIR_PREFIX, logger);
  const exe = toolPath('kube-apiserver');
  toolPath('etcd');

  const dir = mkdtempSync(join(parent, DIR_PREFIX));
  const record = new RunDirRecord(dir);
  const groups: ProcessGroup[] = [];
  const named: { name: string; pid: number }[] = [];
  const onStarted = (group: ProcessGroup, path: string) => {
    named.push({ name: path.split('/').pop() ?? path, pid: group.pid });
    groups.push(group);
    record.addGroup(group.pid, path);
  };
  const teardown = async () => {
    // The API server first: it would only log etcd connection errors while etcd goes away.
    for (const group of [...groups].reverse()) await group.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const apiserverLog = join(dir, 'kube-apiserver.log');

  try {
    const credentials = writeApiServerCredentials(dir);
    const etcd = await startLocalEtcd({ dir, logger, timeoutMs, onStarted });
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const certDir = join(dir, 'certs');
    const cluster = options.cluster;
    const caFile = cluster?.caFile ?? join(certDir, 'apiserver.crt');
    const args = [
      `--etcd-servers=${etcd.clientUrl}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--token-auth-file=${credentials.tokenAuthFile}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--enable-priority-and-fairness=false',
      // Without it SIGTERM leaves open watches hanging until the process dies; with it, watchers see a
      // clean close first, as they do from a well-run production API server.
      '--shutdown-watch-termination-grace-period=2s',
      ...(cluster ? clusterArgs(cluster, dir) : bareArgs(certDir, credentials)),
    ];

    let apiserver: ProcessGroup | undefined;
    const startApiServer = async (): Promise<number> => {
      const group = startProcessGroup({ command: exe, args, logFile: apiserverLog });
      apiserver = group;
      onStarted(group, exe);
      const readyMs = await waitReady({
        what: 'kube-apiserver /readyz',
        process: group,
        timeoutMs,
        logger,
        probe: () => probeReadyz(url, caFile, credentials.adminToken),
      });
      logger.info({ url, pid: group.pid, readyMs }, 'kube-apiserver ready');
      return readyMs;
    };
    const stopApiServer = async () => {
      const status = await apiserver?.stop();
      if (status) logger.info({ status }, 'kube-apiserver stopped');
    };

    const startupMs = await startApiServer().catch((error: Error) => {
      throw new Error(`${error.message}\n${logTail(apiserverLog)}\n${logTail(etcd.logFile)}`);
    });
    const kubeConfig = adminKubeConfig(url, readFileSync(caFile, 'utf8'), credentials.adminToken);
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeConfig.exportConfig(), { mode: 0o600 });

    let stopped = false;
    return {
      url,
      kubeconfigPath,
      kubeConfig,
      dir,
      startupMs,
      processGroups: () => [...named],
      stopApiServer,
      async restartApiServer() {
        await stopApiServer();
        return startApiServer().catch((error: Error) => {
          throw new Error(`${error.message}\n${logTail(apiserverLog)}`);
        });
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await teardown();
      },
    };
  } catch (error) {
    await teardown();
    throw error;
  }
}

function clusterArgs(cluster: ApiServerClusterMode, dir: string): string[] {
  return [
    ...(cluster.kubelet ? kubeletArgs(cluster.kubelet, dir) : []),
    `--advertise-address=${cluster.advertiseAddress}`,
    `--service-cluster-ip-range=${cluster.serviceClusterIpRange}`,
    `--client-ca-file=${cluster.caFile}`,
    `--tls-cert-file=${cluster.tlsCertFile}`,
    `--tls-private-key-file=${cluster.tlsKeyFile}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    `--service-account-key-file=${cluster.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${cluster.serviceAccountKeyFile}`,
  ];
}

function kubeletArgs(kubelet: ApiServerKubeletAccess, dir: string): string[] {
  const egressFile = join(dir, 'egress-selector.json');
  writeFileSync(
    egressFile,
    JSON.stringify({
      apiVersion: 'apiserver.k8s.io/v1beta1',
      kind: 'EgressSelectorConfiguration',
      egressSelections: [
        {
          name: 'cluster',
          connection: { proxyProtocol: 'HTTPConnect', transport: { uds: { udsName: kubelet.egressProxySocket } } },
        },
      ],
    }),
  );
  return [
    `--kubelet-client-certificate=${kubelet.clientCertFile}`,
    `--kubelet-client-key=${kubelet.clientKeyFile}`,
    `--kubelet-certificate-authority=${kubelet.caFile}`,
    // Node names resolve nowhere; their InternalIPs are reachable through the egress proxy.
    '--kubelet-preferred-address-types=InternalIP',
    `--egress-selector-config-file=${egressFile}`,
  ];
}

function bareArgs(certDir: string, credentials: ApiServerCredentials): string[] {
  return [
    '--advertise-address=127.0.0.1',
    `--cert-dir=${certDir}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=RBAC',
    `--service-account-key-file=${credentials.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${credentials.serviceAccountKeyFile}`,
    // No controller-manager creates the default ServiceAccount, so Pods would be refused without this.
    '--disable-admission-plugins=ServiceAccount',
    // Nothing reaches this server through the `kubernetes` Service; don't write a loopback endpoint for it.
    '--endpoint-reconciler-type=none',
  ];
}

function adminKubeConfig(url: string, caPem: string, token: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'skewless-local', server: url, caData: Buffer.from(caPem).toString('base64') }],
    users: [{ name: 'skewless-admin', token }],
    contexts: [{ name: 'skewless-local', cluster: 'skewless-local', user: 'skewless-admin' }],
    currentContext: 'skewless-local',
  });
  return kubeConfig;
}

/** GET /readyz, trusting only the CA kube-apiserver wrote into its cert dir. */
function probeReadyz(url: string, caFile: string, token: string): Promise<true | string> {
  if (!existsSync(caFile)) return Promise.resolve('serving certificate not written yet');
  const ca = readFileSync(caFile);
  return new Promise((resolve) => {
    const request = get(
      `${url}/readyz`,
      { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(res.statusCode === 200 || `HTTP ${res.statusCode}: ${failedChecks(body)}`));
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve(error.message));
  });
}

/** /readyz lists every check; only the failing ones (`[-]…`) are worth a progress line. */
function failedChecks(body: string): string {
  const failed = body.split('\n').filter((line) => line.startsWith('[-]'));
  return failed.length > 0 ? failed.join(', ') : body.slice(0, 200);
}
