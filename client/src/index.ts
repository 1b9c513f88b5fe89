/** @skewless/client: per-request, zone-aware balancing for @grpc/grpc-js, fed by xDS EDS. */

export type { AdsClientStatus } from './ads-client.ts';
export type { BalancerSnapshot, EndpointSnapshot } from './balancer-registry.ts';
export { type ClientConfig, type ClientConfigInput, ConfigError } from './config-client.ts';
export type { ServiceOptions, ServiceOptionsInput } from './config-service.ts';
export { LB_POLICY_NAME } from './lb-config.ts';
export { SERVER_LOAD_TRAILER } from './load-server-reported.ts';
export { type DebugSnapshot, debugSnapshot, type Registration, register } from './register.ts';
export { RESOLVER_SCHEME, ZONE_CHANNEL_OPTION } from './resolver.ts';
export { STRATEGY_NAMES, type StrategyName } from './strategy.ts';
