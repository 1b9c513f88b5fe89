/** xDS endpoint health as the client sees it (envoy.config.core.v3.HealthStatus names). */
export const ENDPOINT_HEALTH = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'] as const;

export type EndpointHealth = (typeof ENDPOINT_HEALTH)[number];

/**
 * Whether an endpoint may receive new calls outside panic mode. As in Envoy and gRPC, HEALTHY
 * and UNKNOWN do; DRAINING gets no new calls (its in-flight calls finish). DEGRADED would be a
 * spillover tier in Envoy; we simply exclude it.
 */
export function acceptsNewCalls(health: EndpointHealth): boolean {
  return health === 'HEALTHY' || health === 'UNKNOWN';
}
