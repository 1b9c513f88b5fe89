/**
 * Service port → the Listener a proxyless gRPC client asks for: `xds:///<host>` makes grpc-js-xds
 * request the Listener named exactly `<host>`, which is the service key or its DNS-style alias
 * (see shared/service-name.ts). An api_listener with an inline route table sends every call to
 * the Cluster named by the service key (no RDS round trip).
 */
import { type Listener, packAny } from '@skewless/shared';

/** The router HTTP filter; gRPC requires it last in the chain, and Envoy needs it to forward at all. */
export function routerFilter() {
  return { name: 'envoy.filters.http.router', typed_config: packAny('router', {}) };
}

export function toApiListener(serviceName: string, listenerName = serviceName): Listener {
  const hcm = {
    route_config: {
      name: serviceName,
      virtual_hosts: [
        { name: serviceName, domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: serviceName } }] },
      ],
    },
    http_filters: [routerFilter()],
  };
  return { name: listenerName, api_listener: { api_listener: packAny('httpConnectionManager', hcm) } };
}
