/**
 * A pod's network: its own namespace with eth0 on its node's cbr0 bridge, an address from the node's
 * pod range, and the bridge as default gateway (so ClusterIPs go through the node's kube-proxy rules).
 */
import { destroyNetns, ip, ipBatch } from '../cluster/netns.ts';

export interface PodNetworkPlan {
  readonly nodeNetns: string;
  readonly podNetns: string;
  /** The veth end left in the node namespace (≤ 15 characters). */
  readonly hostInterface: string;
  readonly ip: string;
  readonly gateway: string;
}

export async function createPodNetwork(plan: PodNetworkPlan): Promise<void> {
  await ip(['netns', 'add', plan.podNetns]);
  try {
    await ip([
      '-n',
      plan.nodeNetns,
      'link',
      'add',
      plan.hostInterface,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      plan.podNetns,
    ]);
    await ipBatch(plan.nodeNetns, [
      `link set ${plan.hostInterface} master cbr0`,
      // A pod reaching itself through its own Service comes back through the bridge port it left by.
      `link set ${plan.hostInterface} type bridge_slave hairpin on`,
      `link set ${plan.hostInterface} up`,
    ]);
    await ipBatch(plan.podNetns, [
      'link set lo up',
      `addr add ${plan.ip}/24 dev eth0`,
      'link set eth0 up',
      `route add default via ${plan.gateway}`,
    ]);
  } catch (error) {
    await destroyNetns(plan.podNetns).catch(() => undefined);
    throw error;
  }
}

/** Stops anything left in the pod's namespace and deletes it; the veth pair goes with it. */
export function deletePodNetwork(plan: PodNetworkPlan): Promise<void> {
  return destroyNetns(plan.podNetns);
}

/**
 * Hands out a node's pod addresses (.2–.254 of its /24), going round the range rather than reusing
 * the address just freed: a client still holding a connection to a deleted pod must not reach its
 * successor (CNI plugins avoid immediate reuse for the same reason).
 */
export class PodAddressPool {
  private readonly prefix: string;
  private readonly used = new Set<number>();
  private next = 2;

  /** @param podCidr `10.244.<i>.0/24` */
  constructor(podCidr: string) {
    const match = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(podCidr);
    if (!match?.[1]) throw new Error(`pod CIDR must be a /24 ending in .0, got ${podCidr}`);
    this.prefix = match[1];
  }

  allocate(): string {
    for (let i = 0; i < 253; i += 1) {
      const host = 2 + ((this.next - 2 + i) % 253);
      if (!this.used.has(host)) {
        this.used.add(host);
        this.next = host + 1 > 254 ? 2 : host + 1;
        return `${this.prefix}.${host}`;
      }
    }
    throw new Error(`no free pod address left in ${this.prefix}.0/24`);
  }

  release(address: string): void {
    this.used.delete(Number(address.split('.')[3]));
  }
}
