/**
 * The local cluster's network, built only from network namespaces this run creates:
 *
 *   sk-<run>-net     the "underlay": bridge br0 172.31.0.1/24 joining the nodes, routes to each pod range; the API server relay
 *                    listens on 172.31.0.1 (the `kubernetes` Service's endpoint)
 *   sk-<run>-n<i>    node i: eth0 172.31.0.(10+i) on the underlay, bridge cbr0 10.244.i.1/24 for its pods,
 *                    routes to every other node's pod range, IP forwarding; kube-proxy's rules live here
 *   sk-<run>-p<id>   one per pod (made by the node agent): eth0 10.244.i.x/24 on its node's cbr0
 *
 * Nothing is added to the machine's own namespace: deleting these namespaces removes every veth,
 * bridge, route and iptables rule the cluster made.
 */
import { ip, ipBatch, NETNS_PREFIX, netnsSysctl } from './netns.ts';

export const CLUSTER_CIDR = '10.244.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/16';
/** The first address of the service range: the `kubernetes` Service's ClusterIP. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
/** The `kube-dns` Service's ClusterIP (by convention the range's .10), every node agent's `--cluster-dns`. */
export const CLUSTER_DNS_IP = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
export const UNDERLAY_GATEWAY = '172.31.0.1';
const UNDERLAY_PREFIX = 24;

export interface NodeNetwork {
  readonly name: string;
  readonly netns: string;
  /** The node's address on the underlay (its InternalIP). */
  readonly ip: string;
  /** `10.244.<i>.0/24`. */
  readonly podCidr: string;
  /** The pod bridge's address, every pod's default gateway. */
  readonly gateway: string;
}

export interface ClusterNetwork {
  readonly runId: string;
  readonly underlayNetns: string;
  readonly nodes: readonly NodeNetwork[];
}

export function netnsPrefix(runId: string): string {
  return `${NETNS_PREFIX}${runId}-`;
}

/** Plans addresses without touching the system (the node agent and tests use the same plan). */
export function planClusterNetwork(runId: string, nodeNames: readonly string[]): ClusterNetwork {
  if (nodeNames.length === 0 || nodeNames.length > 200) throw new Error(`1–200 nodes, got ${nodeNames.length}`);
  const prefix = netnsPrefix(runId);
  return {
    runId,
    underlayNetns: `${prefix}net`,
    nodes: nodeNames.map((name, i) => ({
      name,
      netns: `${prefix}n${i + 1}`,
      ip: `172.31.0.${10 + i + 1}`,
      podCidr: `10.244.${i + 1}.0/24`,
      gateway: `10.244.${i + 1}.1`,
    })),
  };
}

/**
 * A bridge's fixed MAC from its IPv4 address, as the CNI bridge plugin sets it (`0a:58:` + the four
 * octets; locally administered, unicast). A bridge whose MAC is not set takes the lowest MAC of its
 * ports, so a pod joining or leaving the node could change it under every other pod's ARP entry for
 * the gateway: their traffic through it (other nodes, ClusterIPs, the API server) then goes to an
 * address nobody answers until ARP gives up on it (containernetworking/cni#285, kubernetes#30783).
 */
export function bridgeMac(ipv4: string): string {
  const octets = ipv4.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    throw new Error(`bridge address must be IPv4, got ${ipv4}`);
  }
  return ['0a', '58', ...octets.map((o) => o.toString(16).padStart(2, '0'))].join(':');
}

export async function createClusterNetwork(plan: ClusterNetwork): Promise<void> {
  const underlay = plan.underlayNetns;
  await ip(['netns', 'add', underlay]);
  await ipBatch(underlay, [
    'link set lo up',
    `link add br0 address ${bridgeMac(UNDERLAY_GATEWAY)} type bridge`,
    `addr add ${UNDERLAY_GATEWAY}/${UNDERLAY_PREFIX} dev br0`,
    'link set br0 up',
  ]);
  // Replies from the API server relay to pods: each node routes its own pod range.
  const podRoutes = plan.nodes.map((node) => `route add ${node.podCidr} via ${node.ip} dev br0`);
  for (const [i, node] of plan.nodes.entries()) {
    await ip(['netns', 'add', node.netns]);
    // Created in the underlay with its peer moved straight into the node: no end ever sits on the host.
    await ip(['-n', underlay, 'link', 'add', `n${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns]);
    await ipBatch(underlay, [`link set n${i + 1} master br0`, `link set n${i + 1} up`]);
    const others = plan.nodes.filter((other) => other !== node);
    await ipBatch(node.netns, [
      'link set lo up',
      `addr add ${node.ip}/${UNDERLAY_PREFIX} dev eth0`,
      'link set eth0 up',
      `link add cbr0 address ${bridgeMac(node.gateway)} type bridge`,
      `addr add ${node.gateway}/24 dev cbr0`,
      'link set cbr0 up',
      ...others.map((other) => `route add ${other.podCidr} via ${other.ip} dev eth0`),
      // ClusterIPs from the node itself (the agent's own traffic) need a route before kube-proxy's DNAT.
      `route add default via ${UNDERLAY_GATEWAY} dev eth0`,
    ]);
    await netnsSysctl(node.netns, 'net.ipv4.ip_forward', '1');
  }
  await ipBatch(underlay, podRoutes);
}
