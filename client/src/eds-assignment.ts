/**
 * ClusterLoadAssignment → the endpoint list the balancer uses. Pure; every problem is returned
 * with its field path, and any problem rejects the whole resource (the caller NACKs it and keeps
 * the last good assignment, as gRPC clients do).
 */
import { isIP } from 'node:net';
import { type ClusterLoadAssignment__Output, FILTER_METADATA_KEY, fromProtoStruct } from '@skewless/shared';
import { ENDPOINT_HEALTH, type EndpointHealth } from './endpoint-health.ts';

export interface AssignedEndpoint {
  /** `host:port` (IPv6 in brackets): the key the balancer and the resolver share. */
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly zone: string;
  readonly health: EndpointHealth;
  /** load_balancing_weight, default 1. */
  readonly weight: number;
  readonly priority: number;
  /** Our filter metadata (pod, namespace, node, zone, shard). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface EndpointAssignment {
  readonly serviceName: string;
  readonly endpoints: readonly AssignedEndpoint[];
  /**
   * The zone the control plane put alone at priority 0 when it gave this client per-caller
   * priorities: the control plane resolved our zone from the node we sent.
   */
  readonly callerZoneHint: string | undefined;
  /**
   * The calling fleet's share per zone as the control plane published it (locality metadata
   * `clientShares`), or undefined when it published none.
   */
  readonly clientShares: ReadonlyMap<string, number> | undefined;
}

export interface Problem {
  readonly path: string;
  readonly message: string;
}

export type AssignmentResult = { ok: true; value: EndpointAssignment } | { ok: false; problems: Problem[] };

export function endpointKey(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export function parseAssignment(cla: ClusterLoadAssignment__Output): AssignmentResult {
  const problems: Problem[] = [];
  const endpoints: AssignedEndpoint[] = [];
  const seen = new Map<string, string>();
  if (!cla.cluster_name) problems.push({ path: 'cluster_name', message: 'empty' });
  const zonesByPriority = new Map<number, Set<string>>();
  let clientShares: Map<string, number> | undefined;
  (cla.endpoints ?? []).forEach((locality, i) => {
    const at = `endpoints[${i}]`;
    const zone = locality.locality?.zone ?? '';
    const shares = readClientShares(locality.metadata?.filter_metadata?.[FILTER_METADATA_KEY], at, problems);
    // Every locality carries the same map; the first one found is used.
    if (shares && !clientShares) clientShares = shares;
    const priority = locality.priority ?? 0;
    const zones = zonesByPriority.get(priority) ?? new Set<string>();
    zones.add(zone);
    zonesByPriority.set(priority, zones);
    (locality.lb_endpoints ?? []).forEach((lb, j) => {
      const epAt = `${at}.lb_endpoints[${j}]`;
      const socket = lb.endpoint?.address?.socket_address;
      if (!socket) {
        problems.push({ path: `${epAt}.endpoint.address.socket_address`, message: 'missing' });
        return;
      }
      const host = socket.address ?? '';
      let valid = true;
      if (isIP(host) === 0) {
        problems.push({
          path: `${epAt}.endpoint.address.socket_address.address`,
          message: `"${host}" is not an IP literal`,
        });
        valid = false;
      }
      const port = socket.port_value ?? 0;
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        problems.push({
          path: `${epAt}.endpoint.address.socket_address.port_value`,
          message: `${port} is not a port in 1..65535`,
        });
        valid = false;
      }
      const health = String(lb.health_status ?? 'UNKNOWN') as EndpointHealth;
      if (!ENDPOINT_HEALTH.includes(health)) {
        problems.push({ path: `${epAt}.health_status`, message: `unknown health status "${health}"` });
        valid = false;
      }
      const weight = lb.load_balancing_weight ? lb.load_balancing_weight.value : 1;
      if (!(weight >= 1)) {
        problems.push({ path: `${epAt}.load_balancing_weight`, message: `${weight} is not ≥ 1` });
        valid = false;
      }
      const key = endpointKey(host, port);
      const first = seen.get(key);
      if (first) {
        problems.push({ path: `${epAt}.endpoint.address`, message: `duplicate address ${key} (also at ${first})` });
        valid = false;
      } else seen.set(key, epAt);
      if (!valid) return;
      const metadata = fromProtoStruct(lb.metadata?.filter_metadata?.[FILTER_METADATA_KEY]);
      endpoints.push({
        key,
        host,
        port,
        zone: zone || String(metadata.zone ?? ''),
        health,
        weight,
        priority,
        metadata,
      });
    });
  });
  if (problems.length > 0) return { ok: false, problems };
  const p0 = zonesByPriority.get(0);
  const callerZoneHint = zonesByPriority.size > 1 && p0?.size === 1 ? [...p0][0] : undefined;
  return {
    ok: true,
    value: { serviceName: cla.cluster_name, endpoints, callerZoneHint: callerZoneHint || undefined, clientShares },
  };
}

/** `clientShares` of a locality's metadata: zone → number in 0..1; undefined when absent. */
function readClientShares(
  struct: Parameters<typeof fromProtoStruct>[0],
  at: string,
  problems: Problem[],
): Map<string, number> | undefined {
  if (!struct) return undefined;
  const raw = fromProtoStruct(struct).clientShares;
  if (raw === undefined || raw === null) return undefined;
  const path = `${at}.metadata.filter_metadata.${FILTER_METADATA_KEY}.clientShares`;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({ path, message: 'not a struct of zone → share' });
    return undefined;
  }
  const shares = new Map<string, number>();
  for (const [zone, share] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof share !== 'number' || !(share >= 0 && share <= 1)) {
      problems.push({ path: `${path}.${zone}`, message: `${JSON.stringify(share)} is not a share in 0..1` });
    } else shares.set(zone, share);
  }
  return shares;
}

export function formatProblems(problems: readonly Problem[], prefix = ''): string {
  return problems.map((p) => `${prefix}${p.path}: ${p.message}`).join('; ');
}
