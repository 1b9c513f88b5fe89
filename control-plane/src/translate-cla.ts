/**
 * Endpoint model → ClusterLoadAssignment, and the gRPC client rules a CLA must satisfy.
 * Pure: no I/O, no clock; equal input gives byte-equal output (the cache relies on it to
 * suppress no-op pushes).
 */
import {
  type ClusterLoadAssignment,
  type EndpointMetadata,
  FILTER_METADATA_KEY,
  type LbEndpoint,
  type LocalityLbEndpoints,
  type LocalityMetadata,
  type Problem,
  toProtoStruct,
} from '@skewless/shared';
import { canonicalHostPort, isIpLiteral } from './ip-literal.ts';
import type { EndpointRecord, ServicePortEndpoints } from './model.ts';

export interface ClaOptions {
  /**
   * The calling client's zone. Set it to give that client zone affinity from the server side
   * (gRPC clients do no zone-aware routing themselves): its zone at priority 0, every other zone
   * at priority 1, so traffic leaves the zone only when it lacks healthy capacity.
   */
  readonly callerZone?: string;
  /**
   * The calling fleet's share per zone (xds-client-shares.ts), for clients doing Envoy's zone-aware
   * routing themselves. When non-empty, every locality carries `clientShare` (its zone's share, 0
   * when no client is there) and `clientShares` (the whole map: zones with clients but no
   * endpoints have no locality of their own, yet count in local%).
   */
  readonly clientShares?: ReadonlyMap<string, number>;
}

export function toClusterLoadAssignment(service: ServicePortEndpoints, opts: ClaOptions = {}): ClusterLoadAssignment {
  const byZone = new Map<string, EndpointRecord[]>();
  for (const endpoint of service.endpoints) {
    const list = byZone.get(endpoint.zone);
    if (list) list.push(endpoint);
    else byZone.set(endpoint.zone, [endpoint]);
  }
  // A caller whose zone has no endpoints gets no preference: a priority 1 without a priority 0
  // would be a gap, which gRPC rejects.
  const preferred = opts.callerZone !== undefined && byZone.has(opts.callerZone) ? opts.callerZone : undefined;
  const priorityOf = (zone: string) => (preferred === undefined || zone === preferred ? 0 : 1);

  const zones = [...byZone.keys()].sort((a, b) => priorityOf(a) - priorityOf(b) || compare(a, b));
  const shares = opts.clientShares?.size ? opts.clientShares : undefined;
  const shareMap = shares && Object.fromEntries([...shares].sort(([a], [b]) => compare(a, b)));
  const localities = zones.map((zone): LocalityLbEndpoints => {
    const endpoints = [...(byZone.get(zone) ?? [])].sort(compareEndpoints);
    const locality: LocalityLbEndpoints = {
      locality: { zone },
      priority: priorityOf(zone),
      load_balancing_weight: { value: localityWeight(endpoints) },
      lb_endpoints: endpoints.map(toLbEndpoint),
    };
    if (shares && shareMap) {
      const metadata: LocalityMetadata = { clientShare: shares.get(zone) ?? 0, clientShares: shareMap };
      locality.metadata = { filter_metadata: { [FILTER_METADATA_KEY]: toProtoStruct({ ...metadata }) } };
    }
    return locality;
  });
  return { cluster_name: service.name, endpoints: localities };
}

/**
 * Sum of the weights of the locality's HEALTHY endpoints, at least 1: gRPC silently drops a
 * locality without a weight, and a weight of 0 is invalid; an all-draining locality still carries
 * no usable endpoint, so its weight of 1 attracts no traffic.
 */
function localityWeight(endpoints: readonly EndpointRecord[]): number {
  let sum = 0;
  for (const endpoint of endpoints) if (endpoint.health === 'HEALTHY') sum += endpointWeight(endpoint);
  return Math.max(1, sum);
}

function endpointWeight(endpoint: EndpointRecord): number {
  return Math.max(1, Math.floor(endpoint.weight));
}

function toLbEndpoint(endpoint: EndpointRecord): LbEndpoint {
  const metadata: Record<keyof EndpointMetadata, string | undefined> = {
    pod: endpoint.pod,
    namespace: endpoint.podNamespace,
    node: endpoint.node,
    zone: endpoint.zone || undefined,
    shard: endpoint.shard,
  };
  return {
    endpoint: { address: { socket_address: { address: endpoint.address, port_value: endpoint.port } } },
    health_status: endpoint.health,
    load_balancing_weight: { value: endpointWeight(endpoint) },
    metadata: { filter_metadata: { [FILTER_METADATA_KEY]: toProtoStruct(metadata) } },
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareEndpoints(a: EndpointRecord, b: EndpointRecord): number {
  return compare(a.address, b.address) || a.port - b.port;
}

/** Field path in proto names, e.g. `endpoints[2].lb_endpoints[0].endpoint.address`. */
export type ValidationProblem = Problem;

/**
 * Every way `cla` breaks the rules gRPC clients enforce (a client NACKs the whole resource on any
 * of them), so a bad assignment is caught before it is published. Returns all problems, [] if valid.
 */
export function validateClusterLoadAssignment(cla: ClusterLoadAssignment): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (!cla.cluster_name) problems.push({ path: 'cluster_name', message: 'empty' });
  const seenAddresses = new Map<string, string>();
  const seenLocalities = new Map<string, string>();
  const priorities = new Set<number>();
  (cla.endpoints ?? []).forEach((locality, i) => {
    const at = `endpoints[${i}]`;
    const priority = locality.priority ?? 0;
    priorities.add(priority);
    if (!locality.load_balancing_weight || !((locality.load_balancing_weight.value ?? 0) >= 1)) {
      problems.push({ path: `${at}.load_balancing_weight`, message: 'missing or 0: gRPC drops the locality' });
    }
    const l = locality.locality ?? {};
    const localityKey = JSON.stringify([l.region ?? '', l.zone ?? '', l.sub_zone ?? '', priority]);
    const firstLocality = seenLocalities.get(localityKey);
    if (firstLocality) {
      problems.push({ path: `${at}.locality`, message: `same locality and priority as ${firstLocality}` });
    } else seenLocalities.set(localityKey, at);

    (locality.lb_endpoints ?? []).forEach((lbEndpoint, j) => {
      const epAt = `${at}.lb_endpoints[${j}]`;
      const socket = lbEndpoint.endpoint?.address?.socket_address;
      if (!socket) {
        problems.push({ path: `${epAt}.endpoint.address.socket_address`, message: 'missing' });
        return;
      }
      const address = socket.address ?? '';
      if (!isIpLiteral(address)) {
        problems.push({
          path: `${epAt}.endpoint.address.socket_address.address`,
          message: `"${address}" is not an IP literal`,
        });
      }
      const port = socket.port_value ?? 0;
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        problems.push({
          path: `${epAt}.endpoint.address.socket_address.port_value`,
          message: `${port} is not a port in 1..65535`,
        });
      }
      if (lbEndpoint.load_balancing_weight && !((lbEndpoint.load_balancing_weight.value ?? 0) >= 1)) {
        problems.push({ path: `${epAt}.load_balancing_weight`, message: 'must be at least 1' });
      }
      const addressKey = canonicalHostPort(address, port);
      const firstAddress = seenAddresses.get(addressKey);
      if (firstAddress) {
        problems.push({
          path: `${epAt}.endpoint.address`,
          message: `duplicate address ${addressKey} (also at ${firstAddress})`,
        });
      } else seenAddresses.set(addressKey, epAt);
    });
  });
  const sorted = [...priorities].sort((a, b) => a - b);
  if (sorted.some((priority, index) => priority !== index)) {
    problems.push({
      path: 'endpoints',
      message: `priority gap: priorities are [${sorted.join(', ')}], expected 0..${sorted.length - 1}`,
    });
  }
  return problems;
}
