/**
 * Service port → the Listener a proxyless gRPC client asks for: `xds:///<ns>/<svc>:<port>` makes
 * grpc-js-xds request the Listener named exactly `<ns>/<svc>:<port>`. An api_listener with an
 * inline route table sends every call to the Cluster of the same name (no RDS round trip).
 */
import { type Listener, packAny } from '@skewless/shared';

/** The router HTTP filter; gRPC requires it last in the chain, and Envoy needs it to forward at all. */
export function routerFilter() {
  return { name: 'envoy.filters.http.router', typed_config: packAny('router', {}) };
}

export function toApiListener(serviceName: string): Listener {
  const hcm = {
    route_config: {
      name: serviceName,
      virtual_hosts: [
        { name: serviceName, domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: serviceName } }] },
      ],
    },
    http_filters: [routerFilter()],
  };
  return { name: serviceName, api_listener: { api_listener: packAny('httpConnectionManager', hcm) } };
}
