/**
 * `skewless backend` configuration. Every option has a flag and an environment variable (flags win;
 * in a pod, identity comes from env set by the downward API): strings in → numbers where due →
 * defaults → validate every field → typed config. A problem names where the bad value came from,
 * `--error-rate` or `ERROR_RATE`, so a manifest is fixed in one round.
 */
import { hostname } from 'node:os';
import { formatProblemList, type Problem } from '@skewless/shared';
import { z } from 'zod';
import { DEFAULT_FAULTS, type FaultSettings, faultFields, number } from './backend-faults.ts';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;

export interface BackendConfig extends FaultSettings {
  /** 0 picks a free port. */
  readonly grpcPort: number;
  /** /metrics, /healthz, /readyz and /fault; 0 picks a free port. */
  readonly httpPort: number;
  /** IP literal both servers bind to. */
  readonly bindAddress: string;
  readonly pod: string;
  readonly namespace: string;
  readonly node: string;
  readonly zone: string;
  /** Cold-start window: extra latency falls linearly from warmupLatencyMs to 0 over it. */
  readonly warmupMs: number;
  readonly warmupLatencyMs: number;
  /** After SIGTERM: NOT_SERVING at once, but keep serving this long while endpoint removal propagates. */
  readonly drainDelayMs: number;
  /** Then GOAWAY, and wait this long for in-flight calls before cancelling them. */
  readonly drainTimeoutMs: number;
  /** CPU niceness of the process (and its autogroup when it leads its session); undefined leaves it as inherited. */
  readonly nice?: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
}

type ConfigKey = keyof BackendConfig;

export interface BackendOption {
  readonly key: ConfigKey;
  readonly flag: string;
  readonly env: string;
  /** Placeholder in `--help`, e.g. `<ms>`. */
  readonly value: string;
  readonly numeric: boolean;
  readonly description: string;
}

/** Placeholders whose values are read as numbers; the rest stay strings. */
const NUMERIC_VALUES = new Set(['port', 'ms', 'fraction', 'n']);

const option = (key: ConfigKey, flag: string, env: string, value: string, description: string): BackendOption => ({
  key,
  flag,
  env,
  value,
  numeric: NUMERIC_VALUES.has(value),
  description,
});

/** The CLI builds its flags from this table; the order is the `--help` order. */
export const BACKEND_OPTIONS: readonly BackendOption[] = [
  option('grpcPort', '--grpc-port', 'GRPC_PORT', 'port', 'gRPC listen port, 0 picks a free one (default 50051)'),
  option(
    'httpPort',
    '--http-port',
    'HTTP_PORT',
    'port',
    '/metrics, /healthz, /readyz and /fault port, 0 picks a free one (default 9090)',
  ),
  option('bindAddress', '--bind-address', 'BIND_ADDRESS', 'address', 'IP both servers bind to (default 0.0.0.0)'),
  option('pod', '--pod', 'POD_NAME', 'name', 'pod name in replies and metrics (default: the hostname)'),
  option('namespace', '--namespace', 'POD_NAMESPACE', 'name', 'pod namespace, for logs'),
  option('node', '--node', 'NODE_NAME', 'name', 'node name in replies and metrics'),
  option('zone', '--zone', 'ZONE', 'name', 'zone in replies and metrics'),
  option('latencyMs', '--latency-ms', 'LATENCY_MS', 'ms', 'latency added to every call (default 0)'),
  option(
    'latencyJitterMs',
    '--latency-jitter-ms',
    'LATENCY_JITTER_MS',
    'ms',
    'uniform extra latency 0..ms (default 0)',
  ),
  option('cpuWorkMs', '--cpu-work-ms', 'CPU_WORK_MS', 'ms', 'busy-loop this long per call (default 0)'),
  option('errorRate', '--error-rate', 'ERROR_RATE', 'fraction', 'fraction of calls failed, 0..1 (default 0)'),
  option(
    'errorCode',
    '--error-code',
    'ERROR_CODE',
    'code',
    'gRPC status name of injected errors (default UNAVAILABLE)',
  ),
  option('warmupMs', '--warmup-ms', 'WARMUP_MS', 'ms', 'cold-start window after start (default 0)'),
  option(
    'warmupLatencyMs',
    '--warmup-latency-ms',
    'WARMUP_LATENCY_MS',
    'ms',
    'extra latency at start, falling linearly to 0 over the warm-up window (default 0)',
  ),
  option(
    'drainDelayMs',
    '--drain-delay-ms',
    'DRAIN_DELAY_MS',
    'ms',
    'on SIGTERM: NOT_SERVING at once, keep serving this long (default 2000)',
  ),
  option(
    'drainTimeoutMs',
    '--drain-timeout-ms',
    'DRAIN_TIMEOUT_MS',
    'ms',
    'then GOAWAY and wait this long for in-flight calls before cancelling them (default 10000)',
  ),
  option(
    'nice',
    '--nice',
    'NICE',
    'n',
    'CPU niceness, -20 to 19 (below 0 needs CAP_SYS_NICE): replies ahead of the cluster machinery sharing its cores (default: unchanged)',
  ),
  option('logLevel', '--log-level', 'LOG_LEVEL', 'level', `${LOG_LEVELS.join(', ')} (default info)`),
];

const port = number().int().min(0).max(65535);
const durationMs = number().int().min(0).max(600_000);

const configSchema = z
  .strictObject({
    grpcPort: port.default(50051),
    httpPort: port.default(9090),
    bindAddress: z.union([z.ipv4(), z.ipv6()], { error: 'not an IP literal' }).default('0.0.0.0'),
    pod: z
      .string()
      .min(1, 'must not be empty')
      .default(() => hostname()),
    namespace: z.string().default(''),
    node: z.string().default(''),
    zone: z.string().default(''),
    latencyMs: faultFields.latencyMs.default(DEFAULT_FAULTS.latencyMs),
    latencyJitterMs: faultFields.latencyJitterMs.default(DEFAULT_FAULTS.latencyJitterMs),
    cpuWorkMs: faultFields.cpuWorkMs.default(DEFAULT_FAULTS.cpuWorkMs),
    errorRate: faultFields.errorRate.default(DEFAULT_FAULTS.errorRate),
    errorCode: faultFields.errorCode.default(DEFAULT_FAULTS.errorCode),
    warmupMs: durationMs.default(0),
    warmupLatencyMs: durationMs.default(0),
    drainDelayMs: durationMs.default(2000),
    drainTimeoutMs: durationMs.default(10_000),
    nice: number().int('expected a whole number').min(-20).max(19).optional(),
    logLevel: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  })
  .superRefine((config, ctx) => {
    if (config.grpcPort !== 0 && config.grpcPort === config.httpPort) {
      ctx.addIssue({ code: 'custom', path: ['httpPort'], message: 'same port as the gRPC port' });
    }
  });

export type BackendConfigResult = { ok: true; config: BackendConfig } | { ok: false; problems: Problem[] };

/** Raw option strings: flags keyed by config key (as commander names them), env by variable name. */
export interface BackendConfigSources {
  flags?: Partial<Record<ConfigKey, string | undefined>>;
  env?: Record<string, string | undefined>;
}

/** Flags over env over defaults. An empty env variable counts as unset (templated manifests render them). */
export function loadBackendConfig(sources: BackendConfigSources): BackendConfigResult {
  const raw: Record<string, unknown> = {};
  const origins = new Map<string, { source: string; text: string }>();
  for (const { key, flag, env, numeric } of BACKEND_OPTIONS) {
    const fromFlag = sources.flags?.[key];
    const fromEnv = sources.env?.[env];
    const origin =
      fromFlag !== undefined
        ? { source: flag, text: fromFlag }
        : fromEnv !== undefined && fromEnv !== ''
          ? { source: env, text: fromEnv }
          : undefined;
    if (!origin) continue;
    origins.set(key, origin);
    raw[key] = numeric ? toNumber(origin.text) : origin.text;
  }
  const result = configSchema.safeParse(raw);
  if (result.success) return { ok: true, config: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const origin = origins.get(key);
      return origin
        ? { path: origin.source, message: `${issue.message} (got ${JSON.stringify(origin.text)})` }
        : { path: key || '(config)', message: issue.message };
    }),
  };
}

/** NaN for anything that is not plainly a number, so the schema reports it instead of reading `''` as 0. */
function toNumber(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? Number.NaN : Number(trimmed);
}

/** A typed config for in-process use (tests): defaults under the given values, validated; throws listing every problem. */
export function backendConfig(values: Partial<BackendConfig> = {}): BackendConfig {
  const result = configSchema.safeParse(values);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw new Error(`invalid backend config:\n${formatProblemList(problems)}`);
  }
  return result.data;
}
