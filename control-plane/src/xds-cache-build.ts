/**
 * The full desired xDS state for one endpoint view: every resource of every type, as plain
 * messages. Pure; the cache encodes, compares and versions what this returns.
 */
import { TYPE_URL, type TypeUrl } from '@skewless/shared';
import type { ServicePortEndpoints } from './model.ts';
import { toCluster } from './translate-cds.ts';
import { toClusterLoadAssignment } from './translate-cla.ts';
import { type IngressConfig, toIngressListener, toIngressRouteConfiguration } from './translate-ingress.ts';
import { toApiListener } from './translate-lds.ts';

export interface DesiredResource {
  readonly message: object;
  /**
   * Whether a wildcard subscriber (Envoy's LDS/CDS) gets it. gRPC api_listeners are not: Envoy
   * accepts only one api_listener, from its bootstrap, and gRPC always asks for Listeners by name.
   */
  readonly wildcard: boolean;
  /** For a ClusterLoadAssignment: its input, kept to compute per-zone variants on demand. */
  readonly service?: ServicePortEndpoints;
}

export type DesiredState = ReadonlyMap<TypeUrl, ReadonlyMap<string, DesiredResource>>;

export function buildDesiredState(
  services: readonly ServicePortEndpoints[],
  ingress: IngressConfig | undefined,
): DesiredState {
  const listeners = new Map<string, DesiredResource>();
  const routes = new Map<string, DesiredResource>();
  const clusters = new Map<string, DesiredResource>();
  const assignments = new Map<string, DesiredResource>();
  for (const service of services) {
    listeners.set(service.name, { message: toApiListener(service.name), wildcard: false });
    clusters.set(service.name, { message: toCluster(service), wildcard: true });
    assignments.set(service.name, { message: toClusterLoadAssignment(service), wildcard: false, service });
  }
  if (ingress) {
    const listener = toIngressListener(ingress);
    const route = toIngressRouteConfiguration(ingress);
    listeners.set(listener.name ?? '', { message: listener, wildcard: true });
    routes.set(route.name ?? '', { message: route, wildcard: false });
  }
  return new Map<TypeUrl, ReadonlyMap<string, DesiredResource>>([
    [TYPE_URL.listener, listeners],
    [TYPE_URL.routeConfiguration, routes],
    [TYPE_URL.cluster, clusters],
    [TYPE_URL.clusterLoadAssignment, assignments],
  ]);
}
