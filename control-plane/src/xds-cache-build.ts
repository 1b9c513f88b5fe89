/**
 * The full desired xDS state for one endpoint view: every resource of every type, as plain
 * messages. Pure; the cache encodes, compares and versions what this returns. Services whose input
 * (and whose fleet shares were not re-published) did not change since the last build are not translated again (a rollout touches a few services
 * out of thousands; translating and encoding all of them on every change would dominate a push).
 */
import { DEFAULT_CLUSTER_DOMAIN, dnsListenerName, TYPE_URL, type TypeUrl } from '@skewless/shared';
import type { ServicePortEndpoints } from './model.ts';
import { toCluster } from './translate-cds.ts';
import { toClusterLoadAssignment } from './translate-cla.ts';
import { type IngressConfig, toIngressListener, toIngressRouteConfiguration } from './translate-ingress.ts';
import { toApiListener } from './translate-lds.ts';
import type { ZoneShares } from './xds-client-shares.ts';

export interface DesiredResource {
  /** Undefined when the input is unchanged since the last build: keep what is published. */
  readonly message: object | undefined;
  /**
   * Whether a wildcard subscriber (Envoy's LDS/CDS, or `*`) gets it. gRPC api_listeners are not:
   * Envoy accepts only one api_listener, from its bootstrap, and gRPC asks for Listeners by name.
   */
  readonly wildcard: boolean;
  /** For a ClusterLoadAssignment: its input, kept to compute per-zone variants on demand. */
  readonly service?: ServicePortEndpoints;
  /** For a ClusterLoadAssignment: the fleet shares it was translated with (variants need them too). */
  readonly clientShares?: ZoneShares;
}

export type DesiredState = ReadonlyMap<TypeUrl, ReadonlyMap<string, DesiredResource>>;

export function buildDesiredState(
  services: readonly ServicePortEndpoints[],
  ingress: IngressConfig | undefined,
  unchanged: (service: ServicePortEndpoints) => boolean = () => false,
  clusterDomain = DEFAULT_CLUSTER_DOMAIN,
  sharesOf: (name: string) => ZoneShares | undefined = () => undefined,
): DesiredState {
  const listeners = new Map<string, DesiredResource>();
  const routes = new Map<string, DesiredResource>();
  const clusters = new Map<string, DesiredResource>();
  const assignments = new Map<string, DesiredResource>();
  for (const service of services) {
    const same = unchanged(service);
    listeners.set(service.name, { message: same ? undefined : toApiListener(service.name), wildcard: false });
    const alias = dnsListenerName(service.key, service.servicePort, clusterDomain);
    listeners.set(alias, { message: same ? undefined : toApiListener(service.name, alias), wildcard: false });
    clusters.set(service.name, { message: same ? undefined : toCluster(service), wildcard: true });
    const clientShares = sharesOf(service.name);
    const assignment = same ? undefined : toClusterLoadAssignment(service, clientShares ? { clientShares } : {});
    assignments.set(service.name, {
      message: assignment,
      wildcard: true,
      service,
      ...(clientShares ? { clientShares } : {}),
    });
  }
  if (ingress) {
    const listener = toIngressListener(ingress);
    const route = toIngressRouteConfiguration(ingress);
    listeners.set(listener.name ?? '', { message: listener, wildcard: true });
    routes.set(route.name ?? '', { message: route, wildcard: true });
  }
  return new Map<TypeUrl, ReadonlyMap<string, DesiredResource>>([
    [TYPE_URL.listener, listeners],
    [TYPE_URL.routeConfiguration, routes],
    [TYPE_URL.cluster, clusters],
    [TYPE_URL.clusterLoadAssignment, assignments],
  ]);
}

/** Field-by-field equality of two views of one service port (cheap next to translating it). */
export function sameServiceInput(a: ServicePortEndpoints | undefined, b: ServicePortEndpoints): boolean {
  if (a === b) return true;
  if (!a || a.name !== b.name || a.servicePort !== b.servicePort || a.appProtocol !== b.appProtocol) return false;
  if (a.endpoints.length !== b.endpoints.length) return false;
  for (let i = 0; i < a.endpoints.length; i += 1) {
    const x = a.endpoints[i];
    const y = b.endpoints[i];
    if (
      !x ||
      !y ||
      x.address !== y.address ||
      x.port !== y.port ||
      x.health !== y.health ||
      x.zone !== y.zone ||
      x.weight !== y.weight ||
      x.node !== y.node ||
      x.pod !== y.pod ||
      x.podNamespace !== y.podNamespace ||
      x.shard !== y.shard
    ) {
      return false;
    }
  }
  return true;
}
