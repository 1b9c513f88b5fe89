/**
 * Envoy admin output (the `{"skewlessEnvoyAdmin":[…]}` line e2e/k6/envoy-admin.ts prints) → the numbers
 * the ingress scenarios read: xDS updates accepted and rejected, listeners, downstream requests by
 * protocol, and per upstream cluster and host the requests Envoy sent. Pure: no I/O.
 */

export const ENVOY_ADMIN_MARKER = '{"skewlessEnvoyAdmin":';

export interface XdsUpdates {
  readonly success: number;
  readonly rejected: number;
}

export interface EnvoyUpstreamHost {
  readonly address: string;
  readonly port: number;
  /** The echo pod with this IP, when known. */
  readonly pod: string | null;
  readonly zone: string;
  /** 0 = Envoy's own zone when the control plane gives it zone priorities. */
  readonly priority: number;
  readonly health: string;
  readonly rqTotal: number;
  readonly rqError: number;
  readonly cxActive: number;
}

export interface EnvoyUpstreamCluster {
  readonly name: string;
  readonly rqTotal: number;
  readonly rq5xx: number;
  readonly cxTotal: number;
  readonly cxActive: number;
  /** EDS updates of this cluster. */
  readonly eds: XdsUpdates;
  readonly membershipHealthy: number;
  readonly hosts: readonly EnvoyUpstreamHost[];
}

export interface EnvoyIngressStats {
  readonly pod: string;
  readonly zone: string;
  /** Set when the admin endpoint could not be read; every number is 0 then. */
  readonly error?: string;
  readonly controlPlaneConnected: boolean;
  readonly lds: XdsUpdates;
  readonly cds: XdsUpdates;
  readonly rds: XdsUpdates;
  readonly listenersActive: number;
  readonly downstream: {
    readonly rqTotal: number;
    readonly rq2xx: number;
    readonly rq5xx: number;
    readonly cxTotal: number;
    readonly cxHttp1: number;
    readonly cxHttp2: number;
    readonly cxSsl: number;
    /** TLS handshakes over every listener. */
    readonly sslHandshakes: number;
  };
  /** Our clusters (`<namespace>/<service>:<port>`), by name. */
  readonly clusters: readonly EnvoyUpstreamCluster[];
}

/** One Envoy as envoy-admin.ts prints it: /stats?format=json and /clusters?format=json as returned. */
export interface EnvoyAdminDump {
  readonly name: string;
  readonly address: string;
  readonly error?: string;
  readonly stats?: { readonly stats?: readonly { readonly name?: string; readonly value?: unknown }[] };
  readonly clusters?: {
    readonly cluster_statuses?: readonly {
      readonly name: string;
      readonly host_statuses?: readonly {
        readonly address?: { readonly socket_address?: { readonly address?: string; readonly port_value?: number } };
        readonly stats?: readonly { readonly name?: string; readonly value?: string }[];
        readonly health_status?: { readonly eds_health_status?: string };
        readonly locality?: { readonly zone?: string };
        readonly priority?: number;
      }[];
    }[];
  };
}

export function parseEnvoyAdminOutput(log: string): EnvoyAdminDump[] | undefined {
  const last = log
    .split('\n')
    .filter((line) => line.startsWith(ENVOY_ADMIN_MARKER))
    .at(-1);
  if (last === undefined) return undefined;
  try {
    return (JSON.parse(last) as { skewlessEnvoyAdmin: EnvoyAdminDump[] }).skewlessEnvoyAdmin;
  } catch {
    return undefined;
  }
}

/**
 * `zones`: each Envoy pod's zone; `podsByIp`: echo pod names by IP, to name upstream hosts.
 * Envoy writes a cluster's `:` as `_` in stat names (`cluster.skewless/echo_grpc.upstream_rq_total`).
 */
export function envoyIngressStats(
  dumps: readonly EnvoyAdminDump[],
  zones: ReadonlyMap<string, string>,
  podsByIp: ReadonlyMap<string, string>,
): EnvoyIngressStats[] {
  return dumps.map((dump) => {
    const values = new Map<string, number>();
    for (const stat of dump.stats?.stats ?? []) {
      if (stat.name !== undefined && typeof stat.value === 'number') values.set(stat.name, stat.value);
    }
    const stat = (name: string) => values.get(name) ?? 0;
    const sum = (pattern: RegExp) =>
      [...values].filter(([name]) => pattern.test(name)).reduce((total, [, value]) => total + value, 0);
    const updates = (prefix: string): XdsUpdates => ({
      success: stat(`${prefix}.update_success`),
      rejected: stat(`${prefix}.update_rejected`),
    });
    const clusters = (dump.clusters?.cluster_statuses ?? [])
      .filter((cluster) => cluster.name.includes('/'))
      .map((cluster): EnvoyUpstreamCluster => {
        const prefix = `cluster.${cluster.name.replaceAll(':', '_')}`;
        const hosts = (cluster.host_statuses ?? []).map((host): EnvoyUpstreamHost => {
          const hostStat = (name: string) => Number(host.stats?.find((s) => s.name === name)?.value ?? 0);
          const address = host.address?.socket_address?.address ?? '';
          return {
            address,
            port: host.address?.socket_address?.port_value ?? 0,
            pod: podsByIp.get(address) ?? null,
            zone: host.locality?.zone ?? '',
            priority: host.priority ?? 0,
            health: host.health_status?.eds_health_status ?? 'UNKNOWN',
            rqTotal: hostStat('rq_total'),
            rqError: hostStat('rq_error'),
            cxActive: hostStat('cx_active'),
          };
        });
        return {
          name: cluster.name,
          rqTotal: stat(`${prefix}.upstream_rq_total`),
          rq5xx: stat(`${prefix}.upstream_rq_5xx`),
          cxTotal: stat(`${prefix}.upstream_cx_total`),
          cxActive: stat(`${prefix}.upstream_cx_active`),
          eds: updates(prefix),
          membershipHealthy: stat(`${prefix}.membership_healthy`),
          hosts: hosts.sort((a, b) => (a.pod ?? a.address).localeCompare(b.pod ?? b.address)),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
    return {
      pod: dump.name,
      zone: zones.get(dump.name) ?? '',
      ...(dump.error === undefined ? {} : { error: dump.error }),
      controlPlaneConnected: stat('control_plane.connected_state') === 1,
      lds: updates('listener_manager.lds'),
      cds: updates('cluster_manager.cds'),
      rds: updates('http.ingress.rds.ingress'),
      listenersActive: stat('listener_manager.total_listeners_active'),
      downstream: {
        rqTotal: stat('http.ingress.downstream_rq_total'),
        rq2xx: stat('http.ingress.downstream_rq_2xx'),
        rq5xx: stat('http.ingress.downstream_rq_5xx'),
        cxTotal: stat('http.ingress.downstream_cx_total'),
        cxHttp1: stat('http.ingress.downstream_cx_http1_total'),
        cxHttp2: stat('http.ingress.downstream_cx_http2_total'),
        cxSsl: stat('http.ingress.downstream_cx_ssl_total'),
        sslHandshakes: sum(/^listener\..*\.ssl\.handshake$/),
      },
      clusters,
    };
  });
}
