/**
 * The only configuration our Envoy gets: who it is (node id, cluster, zone) and where the control
 * plane is. Listeners, routes, clusters and endpoints all come over ADS.
 */
export type AdsApiType = 'GRPC' | 'DELTA_GRPC';

export interface EnvoyAdsBootstrapOptions {
  readonly nodeId: string;
  readonly nodeCluster?: string;
  /** `node.locality.zone`: the control plane can serve this Envoy its zone at priority 0. */
  readonly zone?: string;
  /** Node metadata (e.g. `{ 'skewless.zone_priority': true }`). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly xdsHost: string;
  readonly xdsPort: number;
  /** State of the world (`GRPC`, default) or incremental (`DELTA_GRPC`). */
  readonly apiType?: AdsApiType;
  /** Admin port on 127.0.0.1; 0 (default) lets the OS pick (read it from --admin-address-path). */
  readonly adminPort?: number;
}

const XDS_CLUSTER = 'skewless-xds';

export function envoyAdsBootstrap(opts: EnvoyAdsBootstrapOptions): Record<string, unknown> {
  const ads = { ads: {}, resource_api_version: 'V3' };
  return {
    node: {
      id: opts.nodeId,
      cluster: opts.nodeCluster ?? 'skewless-ingress',
      locality: { zone: opts.zone ?? '' },
      metadata: opts.metadata ?? {},
    },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: opts.adminPort ?? 0 } } },
    dynamic_resources: {
      ads_config: {
        api_type: opts.apiType ?? 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
        set_node_on_first_message_only: true,
      },
      lds_config: ads,
      cds_config: ads,
    },
    static_resources: {
      // The one static cluster: the control plane itself, over HTTP/2 (gRPC).
      clusters: [
        {
          name: XDS_CLUSTER,
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: XDS_CLUSTER,
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: opts.xdsHost, port_value: opts.xdsPort } } } },
                ],
              },
            ],
          },
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        },
      ],
    },
  };
}
