// Curated public API of the control plane.

export {
  type ConfigProblem,
  type ConfigResult,
  type ControlPlaneConfig,
  formatProblems,
  loadConfig,
  parseConfig,
} from './config.ts';
export { createHttpHandler, type ReadinessCheck, splitHostPort, startHttpServer } from './http-server.ts';
export { KubeDiscovery, type KubeDiscoveryOptions } from './kube-discovery.ts';
export { type InformerEvent, ResilientInformer, type ResilientInformerOptions } from './kube-informer.ts';
export { XdsMetrics } from './metrics.ts';
export type { EndpointHealth, EndpointRecord, EndpointSink, ServicePortEndpoints } from './model.ts';
export { loadKubeConfig, type RunningControlPlane, startControlPlane } from './run.ts';
export { toCluster } from './translate-cds.ts';
export {
  type ClaOptions,
  toClusterLoadAssignment,
  type ValidationProblem,
  validateClusterLoadAssignment,
} from './translate-cla.ts';
export {
  type IngressConfig,
  type IngressMatch,
  type IngressRoute,
  toIngressListener,
  toIngressRouteConfiguration,
  validateIngressConfig,
} from './translate-ingress.ts';
export { toApiListener } from './translate-lds.ts';
export { type TranslateProblem, type TranslateResult, translateService, translateSlices } from './translate-slices.ts';
export {
  type CacheChange,
  type CachedResource,
  type ClientVariant,
  type SubscriberTally,
  XdsCache,
  type XdsCacheOptions,
  type XdsCacheView,
} from './xds-cache.ts';
export {
  type ClientIdentity,
  POD_NAME_METADATA_KEY,
  POD_NAMESPACE_METADATA_KEY,
  type ResolveClientZone,
  ZONE_PRIORITY_METADATA_KEY,
} from './xds-client-info.ts';
export type { ZoneShares } from './xds-client-shares.ts';
export {
  type AdsServer,
  createXdsServer,
  type ServeAdsOptions,
  serveAds,
  type XdsServer,
  type XdsServerOptions,
} from './xds-server.ts';
