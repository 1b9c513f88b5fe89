/**
 * Control-plane configuration: strict parse → defaults → validate (every error, with its path) → typed config.
 * Sources, later ones winning: a JSON file (`--config`), environment (`SKEWLESS_*`), command-line flags.
 */
import { readFileSync } from 'node:fs';
import { formatProblemList, issueProblem, type Problem, parseServiceKey } from '@skewless/shared';
import { z } from 'zod';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):\d{1,5}$/, 'expected host:port, e.g. 0.0.0.0:18000 or [::]:18000');

const serviceKey = z.string().superRefine((value, ctx) => {
  const parsed = parseServiceKey(value);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error });
});

const grpcServiceName = z.string().regex(/^[A-Za-z_][\w.]*$/, 'not a gRPC service name');

/** Same shape as translate-ingress's IngressConfig routes: first match wins. */
const ingressRoute = z.strictObject({
  service: serviceKey,
  match: z.union(
    [
      /** Fully qualified gRPC service, e.g. `skewless.echo.v1.Echo`: matches every method (`/<service>/`). */
      z.strictObject({ grpcService: grpcServiceName }),
      z.strictObject({ pathPrefix: z.string().startsWith('/') }),
    ],
    { error: 'set exactly one of {"grpcService": "<pkg.Service>"} or {"pathPrefix": "/..."}' },
  ),
});

const absolutePath = z.string().startsWith('/', "expected an absolute path (in Envoy's filesystem)");

const namespace = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'not a namespace name');

export const configSchema = z.strictObject({
  /** Path to a kubeconfig; unset means in-cluster when running in a pod, else the default kubeconfig. */
  kubeconfig: z.string().min(1).optional(),
  /** Namespaces to watch; empty means all namespaces. */
  namespaces: z.array(namespace).default([]),
  /** Where the ADS gRPC server listens. */
  xdsAddress: hostPort.default('0.0.0.0:18000'),
  /** Where /healthz, /readyz and /metrics are served. */
  httpAddress: hostPort.default('0.0.0.0:9090'),
  /** Changes within this window become one push (a rollout is not a push storm). */
  batchWindowMs: z.number().int().min(0).max(1000).default(20),
  /** Kubernetes cluster domain, for the proxyless Listener aliases `<svc>.<ns>.svc.<clusterDomain>:<port>`. */
  clusterDomain: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a DNS domain')
    .default('cluster.local'),
  /** Serve every client per-client EDS (own zone at priority 0) unless its node metadata says otherwise. */
  zoneAffinityByDefault: z.boolean().default(false),
  /** Envoy ingress: the listener and routes served over LDS/RDS/CDS/EDS; unset serves no ingress listener. */
  ingress: z
    .strictObject({
      listenerName: z.string().min(1).default('ingress'),
      routeConfigName: z.string().min(1).default('ingress'),
      /** Address Envoy binds its listener to (an IP literal). */
      host: z.union([z.ipv4(), z.ipv6()], { error: 'not an IP literal' }).default('0.0.0.0'),
      port: z.number().int().min(1).max(65535).default(8080),
      routes: z.array(ingressRoute).min(1),
      /**
       * TLS on the listener (ALPN h2, http/1.1): PEM files in Envoy's filesystem (e.g. a mounted Secret),
       * read by Envoy, not by the control plane. Unset: plaintext h2c and HTTP/1.1.
       */
      tls: z
        .strictObject({
          certFile: absolutePath,
          keyFile: absolutePath,
        })
        .optional(),
    })
    .optional(),
  /** Grace period for open streams on SIGTERM. */
  shutdownGraceMs: z.number().int().min(0).max(120_000).default(5000),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export type ControlPlaneConfig = z.output<typeof configSchema>;
export type IngressRouteConfig = NonNullable<ControlPlaneConfig['ingress']>['routes'][number];

/** Paths are config keys, e.g. `ingress.routes[1].service` (file, env and flags share them). */
export type ConfigProblem = Problem;

export type ConfigResult = { ok: true; config: ControlPlaneConfig } | { ok: false; problems: ConfigProblem[] };

/** Validates raw input (already merged from all sources); reports every problem, not the first. */
export function parseConfig(raw: unknown): ConfigResult {
  const result = configSchema.safeParse(raw);
  if (result.success) return { ok: true, config: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      const problem = issueProblem('', issue);
      return { ...problem, path: problem.path || '(root)' };
    }),
  };
}

/** Environment variables understood, and the config key each sets. */
export const ENV_KEYS: Record<string, { key: keyof ControlPlaneConfig; parse: (v: string) => unknown }> = {
  SKEWLESS_KUBECONFIG: { key: 'kubeconfig', parse: (v) => v },
  SKEWLESS_NAMESPACES: { key: 'namespaces', parse: (v) => (v.trim() ? v.split(',').map((s) => s.trim()) : []) },
  SKEWLESS_XDS_ADDRESS: { key: 'xdsAddress', parse: (v) => v },
  SKEWLESS_HTTP_ADDRESS: { key: 'httpAddress', parse: (v) => v },
  SKEWLESS_BATCH_WINDOW_MS: { key: 'batchWindowMs', parse: Number },
  SKEWLESS_ZONE_AFFINITY_BY_DEFAULT: { key: 'zoneAffinityByDefault', parse: (v) => v === 'true' },
  SKEWLESS_LOG_LEVEL: { key: 'logLevel', parse: (v) => v },
  SKEWLESS_CLUSTER_DOMAIN: { key: 'clusterDomain', parse: (v) => v },
};

export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, { key, parse }] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value !== undefined) out[key] = parse(value);
  }
  return out;
}

/** Reads a JSON config file; a read or syntax error becomes a problem naming the file. */
export function readConfigFile(file: string): { ok: true; raw: unknown } | { ok: false; problems: ConfigProblem[] } {
  try {
    return { ok: true, raw: JSON.parse(readFileSync(file, 'utf8')) };
  } catch (error) {
    return { ok: false, problems: [{ path: file, message: (error as Error).message }] };
  }
}

/** Merges the sources (file < env < flags) and validates the result. */
export function loadConfig(sources: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, unknown>;
}): ConfigResult {
  let fromFile: Record<string, unknown> = {};
  if (sources.file) {
    const read = readConfigFile(sources.file);
    if (!read.ok) return read;
    if (typeof read.raw !== 'object' || read.raw === null || Array.isArray(read.raw)) {
      return { ok: false, problems: [{ path: sources.file, message: 'expected a JSON object' }] };
    }
    fromFile = read.raw as Record<string, unknown>;
  }
  const flags = Object.fromEntries(Object.entries(sources.flags ?? {}).filter(([, v]) => v !== undefined));
  return parseConfig({ ...fromFile, ...configFromEnv(sources.env ?? {}), ...flags });
}

export const formatProblems = (problems: readonly ConfigProblem[]): string => formatProblemList(problems);
