/** Reads Envoy's admin API: cluster membership with health, and stats counters. */

export interface EnvoyHost {
  readonly address: string;
  readonly port: number;
  /** EDS health as Envoy sees it (`HEALTHY`, `DRAINING`, `UNHEALTHY`, ...). */
  readonly health: string;
  readonly zone: string;
  readonly priority: number;
  readonly weight: number;
}

export interface EnvoyCluster {
  readonly name: string;
  readonly hosts: readonly EnvoyHost[];
}

interface ClustersJson {
  cluster_statuses?: {
    name: string;
    host_statuses?: {
      address?: { socket_address?: { address?: string; port_value?: number } };
      health_status?: { eds_health_status?: string };
      locality?: { zone?: string };
      priority?: number;
      weight?: number;
    }[];
  }[];
}

async function get(adminUrl: string, path: string): Promise<string> {
  const response = await fetch(`${adminUrl}${path}`);
  const text = await response.text();
  if (!response.ok) throw new Error(`envoy admin ${path}: HTTP ${response.status}: ${text.slice(0, 200)}`);
  return text;
}

/** Every cluster Envoy knows (static and dynamic) with its hosts, from `/clusters?format=json`. */
export async function envoyClusters(adminUrl: string): Promise<EnvoyCluster[]> {
  const json = JSON.parse(await get(adminUrl, '/clusters?format=json')) as ClustersJson;
  return (json.cluster_statuses ?? []).map((cluster) => ({
    name: cluster.name,
    hosts: (cluster.host_statuses ?? [])
      .map((host) => ({
        address: host.address?.socket_address?.address ?? '',
        port: host.address?.socket_address?.port_value ?? 0,
        health: host.health_status?.eds_health_status ?? 'UNKNOWN',
        zone: host.locality?.zone ?? '',
        priority: host.priority ?? 0,
        weight: host.weight ?? 1,
      }))
      .sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1)),
  }));
}

/** Counters and gauges whose name matches `filter` (a regex, as the admin API takes it). */
export async function envoyStats(adminUrl: string, filter: string): Promise<Map<string, number>> {
  const text = await get(adminUrl, `/stats?filter=${encodeURIComponent(filter)}`);
  const stats = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([^:]+): (\d+)$/.exec(line.trim());
    if (match?.[1] && match[2]) stats.set(match[1], Number(match[2]));
  }
  return stats;
}
