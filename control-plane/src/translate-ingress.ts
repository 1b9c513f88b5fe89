/**
 * Ingress configuration → the Listener and RouteConfiguration an Envoy ingress loads over ADS.
 * The Clusters it routes to are the per-service Clusters every client shares (translate-cds.ts).
 */
import {
  type DownstreamTlsContext,
  type Listener,
  packAny,
  parseServiceKey,
  type RouteConfiguration,
} from '@skewless/shared';
import { isIpLiteral } from './ip-literal.ts';
import type { ValidationProblem } from './translate-cla.ts';
import { routerFilter } from './translate-lds.ts';

export type IngressMatch = { readonly grpcService: string } | { readonly pathPrefix: string };

export interface IngressRoute {
  /** Service key `<namespace>/<service>:<port>`: the Cluster the route sends to. */
  readonly service: string;
  /** `grpcService: 'echo.Echo'` matches every method of that gRPC service (path `/echo.Echo/`). */
  readonly match: IngressMatch;
}

/**
 * TLS on the ingress listener. The paths are read by Envoy, in Envoy's filesystem (a mounted Secret),
 * never by the control plane; Envoy reads them when it accepts the listener, so a missing or bad file
 * is an LDS rejection seen in Envoy's `listener_manager.lds.update_rejected`.
 */
export interface IngressTlsConfig {
  /** PEM certificate chain, leaf first. */
  readonly certFile: string;
  /** PEM private key of the leaf. */
  readonly keyFile: string;
}

/** ALPN offered on a TLS ingress: gRPC and HTTP/2 clients pick h2, others fall back to HTTP/1.1. */
export const INGRESS_ALPN = ['h2', 'http/1.1'] as const;

export interface IngressConfig {
  /** Listener name; default `ingress`. */
  readonly listenerName?: string;
  /** RouteConfiguration name; default `ingress`. */
  readonly routeConfigName?: string;
  /** Address Envoy binds, an IP literal; default `0.0.0.0`. */
  readonly host?: string;
  readonly port: number;
  /** First match wins, so a catch-all `{ pathPrefix: '/' }` goes last. */
  readonly routes: readonly IngressRoute[];
  /** Absent: plaintext (h2c and HTTP/1.1). */
  readonly tls?: IngressTlsConfig;
}

export const INGRESS_DEFAULTS = { listenerName: 'ingress', routeConfigName: 'ingress', host: '0.0.0.0' } as const;

/** Every problem in `config`, with its path; [] when it can be served. */
export function validateIngressConfig(config: IngressConfig): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535) {
    problems.push({ path: 'port', message: `${config.port} is not a port in 1..65535` });
  }
  if (config.host !== undefined && !isIpLiteral(config.host)) {
    problems.push({ path: 'host', message: `"${config.host}" is not an IP literal` });
  }
  if (config.listenerName === '') problems.push({ path: 'listenerName', message: 'empty' });
  if (config.routeConfigName === '') problems.push({ path: 'routeConfigName', message: 'empty' });
  if (config.tls !== undefined) {
    for (const key of ['certFile', 'keyFile'] as const) {
      const file = (config.tls as Partial<IngressTlsConfig>)[key];
      if (typeof file !== 'string' || !file.startsWith('/')) {
        problems.push({ path: `tls.${key}`, message: `${JSON.stringify(file)} is not an absolute path` });
      }
    }
  }
  config.routes.forEach((route, i) => {
    const parsed = parseServiceKey(route.service);
    if (!parsed.ok) problems.push({ path: `routes[${i}].service`, message: parsed.error });
    const match = route.match as Partial<{ grpcService: unknown; pathPrefix: unknown }>;
    const hasGrpc = match.grpcService !== undefined;
    const hasPrefix = match.pathPrefix !== undefined;
    if (hasGrpc === hasPrefix) {
      problems.push({ path: `routes[${i}].match`, message: 'set exactly one of grpcService, pathPrefix' });
    } else if (hasGrpc && !/^[A-Za-z_][\w.]*$/.test(String(match.grpcService))) {
      problems.push({
        path: `routes[${i}].match.grpcService`,
        message: `"${match.grpcService}" is not a gRPC service name`,
      });
    } else if (hasPrefix && !String(match.pathPrefix).startsWith('/')) {
      problems.push({ path: `routes[${i}].match.pathPrefix`, message: `"${match.pathPrefix}" does not start with /` });
    }
  });
  return problems;
}

export function toIngressListener(config: IngressConfig): Listener {
  const routeConfigName = config.routeConfigName ?? INGRESS_DEFAULTS.routeConfigName;
  const hcm = {
    stat_prefix: 'ingress',
    // AUTO: with TLS, the codec ALPN chose; in plaintext, HTTP/2 prior knowledge (h2c, gRPC) else HTTP/1.1.
    codec_type: 'AUTO',
    rds: { config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: routeConfigName },
    http_filters: [routerFilter()],
  };
  return {
    name: config.listenerName ?? INGRESS_DEFAULTS.listenerName,
    address: { socket_address: { address: config.host ?? INGRESS_DEFAULTS.host, port_value: config.port } },
    filter_chains: [
      {
        ...(config.tls ? { transport_socket: tlsTransportSocket(config.tls) } : {}),
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: packAny('httpConnectionManager', hcm),
          },
        ],
      },
    ],
  };
}

/** The listener's TLS: one certificate from files, ALPN h2 then http/1.1 (the AUTO codec follows ALPN). */
export function toDownstreamTlsContext(tls: IngressTlsConfig): DownstreamTlsContext {
  return {
    common_tls_context: {
      tls_certificates: [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }],
      alpn_protocols: [...INGRESS_ALPN],
    },
  };
}

function tlsTransportSocket(tls: IngressTlsConfig) {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: packAny('downstreamTlsContext', toDownstreamTlsContext(tls)),
  };
}

export function toIngressRouteConfiguration(config: IngressConfig): RouteConfiguration {
  const routes = config.routes.map((route) => ({
    match: { prefix: 'grpcService' in route.match ? `/${route.match.grpcService}/` : route.match.pathPrefix },
    // timeout 0 disables Envoy's 15 s default, which would cut long-lived gRPC streams.
    route: { cluster: route.service, timeout: { seconds: '0', nanos: 0 } },
  }));
  return {
    name: config.routeConfigName ?? INGRESS_DEFAULTS.routeConfigName,
    virtual_hosts: [{ name: 'ingress', domains: ['*'], routes }],
  };
}
