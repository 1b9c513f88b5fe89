import {
  type Any__Output,
  type Cluster__Output,
  type DownstreamTlsContext__Output,
  decodeMessage,
  encodeMessage,
  type HttpConnectionManager__Output,
  type Listener__Output,
  type MessageKind,
  type RouteConfiguration__Output,
  TYPE_URL,
} from '@skewless/shared';
import { describe, expect, it } from 'vitest';
import { toCluster } from '../src/translate-cds.ts';
import {
  type IngressConfig,
  toIngressListener,
  toIngressRouteConfiguration,
  validateIngressConfig,
} from '../src/translate-ingress.ts';
import { toApiListener } from '../src/translate-lds.ts';

/** Encodes and decodes, so every assertion is about what a client receives. */
function wire<T>(kind: MessageKind, message: object): T {
  return decodeMessage<T>(kind, encodeMessage(kind, message));
}

function unpack<T>(kind: MessageKind, any: Any__Output | null | undefined): T {
  if (!any || !('value' in any)) throw new Error('no Any');
  return decodeMessage<T>(kind, any.value);
}

function typeUrlOf(any: Any__Output | null | undefined): string | undefined {
  return any && 'type_url' in any ? any.type_url : undefined;
}

const HCM_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const TLS_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

describe('proxyless gRPC resources', () => {
  it('names the api_listener exactly like the service key and routes every call to the cluster of that name', () => {
    const listener = wire<Listener__Output>(TYPE_URL.listener, toApiListener('default/echo:grpc'));
    expect(listener.name).toBe('default/echo:grpc');
    expect(typeUrlOf(listener.api_listener?.api_listener)).toBe(HCM_URL);
    const hcm = unpack<HttpConnectionManager__Output>('httpConnectionManager', listener.api_listener?.api_listener);
    expect(hcm.route_specifier).toBe('route_config');
    const vhosts = hcm.route_config?.virtual_hosts ?? [];
    expect(vhosts.map((v) => v.domains)).toEqual([['*']]);
    expect(vhosts[0]?.routes.map((r) => [r.match?.prefix, r.route?.cluster])).toEqual([['', 'default/echo:grpc']]);
    expect(hcm.http_filters.map((f) => typeUrlOf(f.typed_config))).toEqual([ROUTER_URL]);
  });

  it('makes an EDS cluster over ADS with the service key as EDS service name, round robin and HTTP/2 upstream', () => {
    const cluster = wire<Cluster__Output>(TYPE_URL.cluster, toCluster({ name: 'default/echo:grpc' }));
    expect(cluster.name).toBe('default/echo:grpc');
    expect(cluster.type).toBe('EDS');
    expect(cluster.lb_policy).toBe('ROUND_ROBIN');
    expect(cluster.eds_cluster_config?.service_name).toBe('default/echo:grpc');
    expect(cluster.eds_cluster_config?.eds_config?.config_source_specifier).toBe('ads');
    expect(cluster.eds_cluster_config?.eds_config?.resource_api_version).toBe('V3');
    expect(Number(cluster.connect_timeout?.seconds)).toBeGreaterThan(0);
    const options = cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    const decoded = unpack<{ explicit_http_config: { protocol_config: string } }>('httpProtocolOptions', options);
    expect(decoded.explicit_http_config.protocol_config).toBe('http2_protocol_options');
  });

  it('uses HTTP/1.1 upstream for a port whose appProtocol says http', () => {
    const cluster = wire<Cluster__Output>(
      TYPE_URL.cluster,
      toCluster({ name: 'default/web:http', appProtocol: 'http' }),
    );
    const options = cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    const decoded = unpack<{ explicit_http_config: { protocol_config: string } }>('httpProtocolOptions', options);
    expect(decoded.explicit_http_config.protocol_config).toBe('http_protocol_options');
  });
});

describe('Envoy ingress resources', () => {
  const config: IngressConfig = {
    port: 10000,
    routes: [
      { service: 'default/echo:grpc', match: { grpcService: 'echo.Echo' } },
      { service: 'default/web:http', match: { pathPrefix: '/' } },
    ],
  };

  it('listens on the configured port with an AUTO codec HCM that loads route config "ingress" over ADS', () => {
    const listener = wire<Listener__Output>(TYPE_URL.listener, toIngressListener(config));
    expect(listener.name).toBe('ingress');
    expect(listener.address?.socket_address?.address).toBe('0.0.0.0');
    expect(listener.address?.socket_address?.port_value).toBe(10000);
    expect(listener.filter_chains).toHaveLength(1);
    const filter = listener.filter_chains[0]?.filters[0];
    expect(filter?.name).toBe('envoy.filters.network.http_connection_manager');
    const hcm = unpack<HttpConnectionManager__Output>('httpConnectionManager', filter?.typed_config);
    expect(hcm.codec_type).toBe('AUTO');
    expect(hcm.rds?.route_config_name).toBe('ingress');
    expect(hcm.rds?.config_source?.config_source_specifier).toBe('ads');
    expect(hcm.http_filters.map((f) => typeUrlOf(f.typed_config))).toEqual([ROUTER_URL]);
  });

  it('serves plaintext (no transport socket) unless TLS is configured', () => {
    const listener = wire<Listener__Output>(TYPE_URL.listener, toIngressListener(config));
    expect(listener.filter_chains[0]?.transport_socket).toBeNull();
  });

  it('terminates TLS with the configured files and offers ALPN h2 then http/1.1', () => {
    const tls = { certFile: '/etc/envoy/tls/tls.crt', keyFile: '/etc/envoy/tls/tls.key' };
    const listener = wire<Listener__Output>(TYPE_URL.listener, toIngressListener({ ...config, tls }));
    const socket = listener.filter_chains[0]?.transport_socket;
    expect(socket?.name).toBe('envoy.transport_sockets.tls');
    expect(typeUrlOf(socket?.typed_config)).toBe(TLS_URL);
    const context = unpack<DownstreamTlsContext__Output>('downstreamTlsContext', socket?.typed_config);
    const certificates = context.common_tls_context?.tls_certificates ?? [];
    expect(certificates.map((c) => [c.certificate_chain?.filename, c.private_key?.filename])).toEqual([
      [tls.certFile, tls.keyFile],
    ]);
    expect(context.common_tls_context?.alpn_protocols).toEqual(['h2', 'http/1.1']);
    // Still one chain with the same HCM: TLS changes the socket, not the routing.
    const hcm = unpack<HttpConnectionManager__Output>(
      'httpConnectionManager',
      listener.filter_chains[0]?.filters[0]?.typed_config,
    );
    expect(hcm.codec_type).toBe('AUTO');
    expect(hcm.rds?.route_config_name).toBe('ingress');
  });

  it('honours a configured host, listener name and route config name', () => {
    const custom = { ...config, host: '127.0.0.1', listenerName: 'edge', routeConfigName: 'edge-routes' };
    const listener = wire<Listener__Output>(TYPE_URL.listener, toIngressListener(custom));
    expect(listener.name).toBe('edge');
    expect(listener.address?.socket_address?.address).toBe('127.0.0.1');
    const hcm = unpack<HttpConnectionManager__Output>(
      'httpConnectionManager',
      listener.filter_chains[0]?.filters[0]?.typed_config,
    );
    expect(hcm.rds?.route_config_name).toBe('edge-routes');
    expect(toIngressRouteConfiguration(custom).name).toBe('edge-routes');
  });

  it('routes a gRPC service by its path prefix and a path prefix as given, in config order, without a route timeout', () => {
    const routes = wire<RouteConfiguration__Output>(TYPE_URL.routeConfiguration, toIngressRouteConfiguration(config));
    expect(routes.name).toBe('ingress');
    expect(routes.virtual_hosts[0]?.domains).toEqual(['*']);
    expect(routes.virtual_hosts[0]?.routes.map((r) => [r.match?.prefix, r.route?.cluster])).toEqual([
      ['/echo.Echo/', 'default/echo:grpc'],
      ['/', 'default/web:http'],
    ]);
    expect(routes.virtual_hosts[0]?.routes.every((r) => r.route?.timeout?.seconds === '0')).toBe(true);
  });
});

describe('validateIngressConfig', () => {
  const valid: { name: string; config: IngressConfig }[] = [
    {
      name: 'gRPC and prefix routes',
      config: { port: 8080, routes: [{ service: 'a/b:grpc', match: { grpcService: 'pkg.v1.Svc' } }] },
    },
    { name: 'an IPv6 host and no routes', config: { port: 1, host: '::', routes: [] } },
    {
      name: 'TLS from two absolute paths',
      config: { port: 8443, tls: { certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' }, routes: [] },
    },
  ];
  for (const c of valid) {
    it(`accepts ${c.name}`, () => expect(validateIngressConfig(c.config)).toEqual([]));
  }

  const invalid: { name: string; config: IngressConfig; paths: string[] }[] = [
    { name: 'a port out of range', config: { port: 70000, routes: [] }, paths: ['port'] },
    { name: 'a hostname as host', config: { port: 80, host: 'localhost', routes: [] }, paths: ['host'] },
    { name: 'an empty listener name', config: { port: 80, listenerName: '', routes: [] }, paths: ['listenerName'] },
    {
      name: 'relative TLS paths',
      config: { port: 443, tls: { certFile: 'tls.crt', keyFile: '' }, routes: [] },
      paths: ['tls.certFile', 'tls.keyFile'],
    },
    {
      name: 'a malformed service key',
      config: { port: 80, routes: [{ service: 'echo', match: { pathPrefix: '/' } }] },
      paths: ['routes[0].service'],
    },
    {
      name: 'both match kinds in one route',
      config: { port: 80, routes: [{ service: 'a/b:c', match: { pathPrefix: '/', grpcService: 'x.Y' } as never }] },
      paths: ['routes[0].match'],
    },
    {
      name: 'a path prefix without a leading slash, and a bad gRPC service name',
      config: {
        port: 0,
        routes: [
          { service: 'a/b:c', match: { pathPrefix: 'api' } },
          { service: 'a/b:c', match: { grpcService: '/x.Y/' } },
        ],
      },
      paths: ['port', 'routes[0].match.pathPrefix', 'routes[1].match.grpcService'],
    },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}, naming every bad path`, () => {
      expect(validateIngressConfig(c.config).map((p) => p.path)).toEqual(c.paths);
    });
  }
});
