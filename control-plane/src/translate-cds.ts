/**
 * Service port → Cluster. One Cluster per service port, named by the service key, shared by
 * proxyless gRPC clients and Envoy: its endpoints come from EDS over the same ADS stream.
 */
import { type Cluster, packAny } from '@skewless/shared';
import type { ServicePortEndpoints } from './model.ts';

const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** `appProtocol` values that mean plain HTTP/1.1 upstream; everything else (gRPC, h2c, unset) is HTTP/2. */
const HTTP1_APP_PROTOCOLS = new Set(['http', 'http/1.1', 'kubernetes.io/ws']);

export const CLUSTER_CONNECT_TIMEOUT = { seconds: '1', nanos: 0 } as const;

export function toCluster(service: Pick<ServicePortEndpoints, 'name' | 'appProtocol'>): Cluster {
  const http1 = service.appProtocol !== undefined && HTTP1_APP_PROTOCOLS.has(service.appProtocol.toLowerCase());
  return {
    name: service.name,
    type: 'EDS',
    // `ads: {}` is the only EDS source gRPC accepts besides `self`; Envoy reads it as "over the ADS stream".
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: service.name },
    lb_policy: 'ROUND_ROBIN',
    connect_timeout: CLUSTER_CONNECT_TIMEOUT,
    // Envoy speaks HTTP/1.1 upstream unless told otherwise; gRPC needs HTTP/2 (h2c). gRPC clients ignore this.
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS]: packAny('httpProtocolOptions', {
        explicit_http_config: http1 ? { http_protocol_options: {} } : { http2_protocol_options: {} },
      }),
    },
  };
}
