/**
 * The generated xDS message types the control plane and the client build or read, re-exported
 * under short names so callers need not reach into `generated/`. Plain `X` is the input shape
 * (what we serialize), `X__Output` what proto-loader decodes (defaults filled in).
 */

export type { Cluster, Cluster__Output } from './generated/envoy/config/cluster/v3/Cluster.ts';
export type { ConfigSource } from './generated/envoy/config/core/v3/ConfigSource.ts';
export type { Metadata } from './generated/envoy/config/core/v3/Metadata.ts';
export type { Node, Node__Output } from './generated/envoy/config/core/v3/Node.ts';
export type {
  ClusterLoadAssignment,
  ClusterLoadAssignment__Output,
} from './generated/envoy/config/endpoint/v3/ClusterLoadAssignment.ts';
export type { LbEndpoint, LbEndpoint__Output } from './generated/envoy/config/endpoint/v3/LbEndpoint.ts';
export type {
  LocalityLbEndpoints,
  LocalityLbEndpoints__Output,
} from './generated/envoy/config/endpoint/v3/LocalityLbEndpoints.ts';
export type { Listener, Listener__Output } from './generated/envoy/config/listener/v3/Listener.ts';
export type { Route } from './generated/envoy/config/route/v3/Route.ts';
export type {
  RouteConfiguration,
  RouteConfiguration__Output,
} from './generated/envoy/config/route/v3/RouteConfiguration.ts';
export type { VirtualHost } from './generated/envoy/config/route/v3/VirtualHost.ts';
export type {
  HttpConnectionManager,
  HttpConnectionManager__Output,
} from './generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.ts';
export type {
  DownstreamTlsContext,
  DownstreamTlsContext__Output,
} from './generated/envoy/extensions/transport_sockets/tls/v3/DownstreamTlsContext.ts';
export type { HttpProtocolOptions } from './generated/envoy/extensions/upstreams/http/v3/HttpProtocolOptions.ts';
export type {
  AggregatedDiscoveryServiceClient,
  AggregatedDiscoveryServiceHandlers,
} from './generated/envoy/service/discovery/v3/AggregatedDiscoveryService.ts';
export type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryRequest__Output,
} from './generated/envoy/service/discovery/v3/DeltaDiscoveryRequest.ts';
export type {
  DeltaDiscoveryResponse,
  DeltaDiscoveryResponse__Output,
} from './generated/envoy/service/discovery/v3/DeltaDiscoveryResponse.ts';
export type {
  DiscoveryRequest,
  DiscoveryRequest__Output,
} from './generated/envoy/service/discovery/v3/DiscoveryRequest.ts';
export type {
  DiscoveryResponse,
  DiscoveryResponse__Output,
} from './generated/envoy/service/discovery/v3/DiscoveryResponse.ts';
export type { Resource, Resource__Output } from './generated/envoy/service/discovery/v3/Resource.ts';
export type { Any, Any__Output } from './generated/google/protobuf/Any.ts';
export type { Duration } from './generated/google/protobuf/Duration.ts';
export type { Status as RpcStatus, Status__Output as RpcStatus__Output } from './generated/google/rpc/Status.ts';
