/** xDS v3 resource type URLs served by the control plane and consumed by the client. */
export const TYPE_URL = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  routeConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  clusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

export type TypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];

const KNOWN = new Set<string>(Object.values(TYPE_URL));

export function isKnownTypeUrl(url: string): url is TypeUrl {
  return KNOWN.has(url);
}

/** Short names for logs and metrics labels. */
export const TYPE_SHORT_NAME: Record<TypeUrl, 'lds' | 'rds' | 'cds' | 'eds'> = {
  [TYPE_URL.listener]: 'lds',
  [TYPE_URL.routeConfiguration]: 'rds',
  [TYPE_URL.cluster]: 'cds',
  [TYPE_URL.clusterLoadAssignment]: 'eds',
};
