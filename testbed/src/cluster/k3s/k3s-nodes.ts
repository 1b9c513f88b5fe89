/**
 * What the k3s cluster's containers are, as data: node names, the server's and each agent's command
 * line, environment and Docker labels. Pure, so the per-zone agent lines are tested without Docker.
 *
 * The server runs the control plane and its own kubelet (flannel there is what `K3sContainer` waits
 * for), but it is tainted `CriticalAddonsOnly=true:NoExecute`: k3s's CoreDNS tolerates that and stays
 * on it, while Skewless's pods, which do not, land on the agents — the only nodes with a zone label.
 *
 * Every node sits on the run's own Docker network and on nothing else: k3s takes the node IP (and
 * flannel's VXLAN endpoint) from the default route's interface, so a server also on Docker's default
 * bridge would be unreachable from the agents' pods. Agents find the server by its container name
 * (Docker's DNS on user-defined networks), which the server's certificate names (`--tls-san`).
 */

export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const REGION_LABEL = 'topology.kubernetes.io/region';
export const K3S_API_PORT = 6443;
export const SERVER_TAINT = 'CriticalAddonsOnly=true:NoExecute';
/**
 * Packaged components the scenarios do not use: an ingress controller and a LoadBalancer implementation
 * (both would claim host ports), metrics-server and the local-path provisioner. CoreDNS stays.
 */
export const DISABLED_COMPONENTS = ['traefik', 'servicelb', 'metrics-server', 'local-storage'] as const;

/** Docker labels on every container and network of a run: what the sweep and the tests filter by. */
export const LABEL_DRIVER = 'dev.skewless.testbed';
export const LABEL_RUN = 'dev.skewless.run';
export const LABEL_OWNER_PID = 'dev.skewless.owner-pid';
export const LABEL_NODE = 'dev.skewless.node';
export const DRIVER_LABEL_VALUE = 'k3s';

export interface K3sNodePlan {
  /** Kubernetes node name (`--node-name`). */
  readonly name: string;
  readonly role: 'server' | 'agent';
  /** Absent on the server. */
  readonly zone?: string;
  readonly containerName: string;
  /** Arguments after the image's `/bin/k3s` entrypoint. */
  readonly command: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  readonly dockerLabels: Readonly<Record<string, string>>;
}

export interface K3sClusterPlan {
  readonly runId: string;
  readonly networkName: string;
  readonly server: K3sNodePlan;
  readonly agents: readonly K3sNodePlan[];
}

export interface K3sPlanInput {
  readonly runId: string;
  readonly zones: readonly string[];
  readonly region: string;
  readonly agentsPerZone: number;
  /** Shared secret agents join with; passed by environment, never on a command line. */
  readonly token: string;
  readonly ownerPid: number;
}

export function runLabels(runId: string, ownerPid: number): Record<string, string> {
  return { [LABEL_DRIVER]: DRIVER_LABEL_VALUE, [LABEL_RUN]: runId, [LABEL_OWNER_PID]: String(ownerPid) };
}

/** `k3s-zone-a-1`: zone first, so `kubectl get nodes` sorts by zone. */
export function agentNodeName(zone: string, index: number): string {
  return `k3s-${zone}-${index + 1}`;
}

export function planK3sCluster(input: K3sPlanInput): K3sClusterPlan {
  const prefix = `skewless-k3s-${input.runId}`;
  const labels = runLabels(input.runId, input.ownerPid);
  // Conntrack limits are machine-wide sysctls: kube-proxy must leave them alone in a container.
  const proxyArgs = ['--kube-proxy-arg=conntrack-max-per-core=0'];
  const serverContainer = `${prefix}-server`;
  const server: K3sNodePlan = {
    name: 'k3s-server',
    role: 'server',
    containerName: serverContainer,
    command: [
      'server',
      `--disable=${DISABLED_COMPONENTS.join(',')}`,
      '--node-name=k3s-server',
      `--node-taint=${SERVER_TAINT}`,
      `--node-label=${REGION_LABEL}=${input.region}`,
      `--tls-san=${serverContainer}`,
      ...proxyArgs,
    ],
    environment: { K3S_TOKEN: input.token },
    dockerLabels: { ...labels, [LABEL_NODE]: 'k3s-server' },
  };
  const agents: K3sNodePlan[] = [];
  for (const zone of input.zones) {
    for (let i = 0; i < input.agentsPerZone; i += 1) {
      const name = agentNodeName(zone, i);
      agents.push({
        name,
        role: 'agent',
        zone,
        containerName: `${prefix}-${zone}-${i + 1}`,
        command: [
          'agent',
          `--node-name=${name}`,
          `--node-label=${ZONE_LABEL}=${zone}`,
          `--node-label=${REGION_LABEL}=${input.region}`,
          ...proxyArgs,
        ],
        environment: { K3S_URL: `https://${serverContainer}:${K3S_API_PORT}`, K3S_TOKEN: input.token },
        dockerLabels: { ...labels, [LABEL_NODE]: name },
      });
    }
  }
  return { runId: input.runId, networkName: prefix, server, agents };
}
