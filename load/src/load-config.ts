/**
 * `skewless load` configuration. Every option has a flag and an environment variable (flags win; in
 * a pod, identity comes from env set by the downward API): strings in → numbers where due →
 * defaults → validate every field and the fields together → typed config. A problem names where the
 * bad value came from (`--rate` or `LOAD_RATE`), or both names when a required value is missing, so
 * a manifest is fixed in one round.
 */
import { hostname } from 'node:os';
import { formatProblemList, type Problem } from '@skewless/shared';
import { z } from 'zod';

export const LOAD_MODES = ['skewless', 'pick-first', 'round-robin'] as const;
export type LoadMode = (typeof LOAD_MODES)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every run stops by itself: an hour is longer than any scenario we run. */
export const MAX_DURATION_S = 3600;

export interface LoadConfig {
  /** How channels are built; everything after channel construction is the same code path. */
  readonly mode: LoadMode;
  /** gRPC target URI: `skewless:///<ns>/<svc>:<port>`, `10.96.0.10:50051`, `dns:///…`, `ipv4:a:p,b:p`. */
  readonly target: string;
  /** ADS server `host:port`; required in skewless mode, unused otherwise. */
  readonly controlPlane: string | undefined;
  /** This client's zone: passed to `register()` and used for `sameZoneShare`. */
  readonly zone: string | undefined;
  /** Skewless mode: the balancing strategy of every service (the client library checks the name). */
  readonly strategy: string | undefined;
  /** Long-lived channels, each with its own connections. */
  readonly channels: number;
  /** Requests per second, in total over all channels. */
  readonly rate: number;
  /** Measured run time (after the warm-up). */
  readonly durationS: number;
  readonly deadlineMs: number;
  /** Sent as Echo `delay_ms`: how long the backend holds each call. */
  readonly delayMs: number;
  /** Above this many calls in flight, a scheduled call is not sent and counts as CLIENT_OVERLOADED. */
  readonly maxInFlight: number;
  /** Calls made but not counted before the measured run. */
  readonly warmupS: number;
  /** Longest wait for the channels to become READY before the clock starts (0: do not wait). */
  readonly waitReadyS: number;
  /** Niceness for every thread of the client (−20…19); undefined leaves it as inherited. */
  readonly nice: number | undefined;
  readonly logLevel: LogLevel;
  /** Who is calling, for the result: POD_NAME, else the hostname. */
  readonly client: string;
  /**
   * Pods expected to answer (library only). A client only learns of pods that answered; pods named
   * here that answered nothing count as zeros in `maxOverMean` and `cv`.
   */
  readonly expectedPods: readonly string[] | undefined;
}

type OptionKey = Exclude<keyof LoadConfig, 'client' | 'expectedPods'>;

export interface LoadOption {
  readonly key: OptionKey;
  readonly flag: string;
  readonly env: string;
  /** Placeholder in `--help`, e.g. `<rps>`. */
  readonly value: string;
  readonly numeric: boolean;
  readonly description: string;
}

const NUMERIC_VALUES = new Set(['n', 'rps', 's', 'ms']);

const option = (key: OptionKey, flag: string, env: string, value: string, description: string): LoadOption => ({
  key,
  flag,
  env,
  value,
  numeric: NUMERIC_VALUES.has(value),
  description,
});

/** The CLI builds its flags from this table; the order is the `--help` order. */
export const LOAD_OPTIONS: readonly LoadOption[] = [
  option('mode', '--mode', 'LOAD_MODE', 'mode', `${LOAD_MODES.join(', ')} (default skewless)`),
  option('target', '--target', 'LOAD_TARGET', 'uri', 'gRPC target of the Echo service (required)'),
  option(
    'controlPlane',
    '--control-plane',
    'SKEWLESS_CONTROL_PLANE',
    'host:port',
    'Skewless control plane (required in skewless mode)',
  ),
  option('zone', '--zone', 'ZONE', 'zone', "this client's zone (optional; learned from the control plane if unset)"),
  option(
    'strategy',
    '--strategy',
    'LOAD_STRATEGY',
    'name',
    "skewless mode: balancing strategy, e.g. p2c, round-robin (default: the client library's, p2c)",
  ),
  option(
    'channels',
    '--channels',
    'LOAD_CHANNELS',
    'n',
    'long-lived channels, each with its own connections (default 1)',
  ),
  option('rate', '--rate', 'LOAD_RATE', 'rps', 'requests per second over all channels (default 100)'),
  option(
    'durationS',
    '--duration-s',
    'LOAD_DURATION_S',
    's',
    `measured run time, at most ${MAX_DURATION_S} (default 10)`,
  ),
  option('deadlineMs', '--deadline-ms', 'LOAD_DEADLINE_MS', 'ms', 'deadline of every call (default 2000)'),
  option(
    'delayMs',
    '--delay-ms',
    'LOAD_DELAY_MS',
    'ms',
    'Echo delay_ms: how long the backend holds a call (default 0)',
  ),
  option(
    'maxInFlight',
    '--max-in-flight',
    'LOAD_MAX_IN_FLIGHT',
    'n',
    'beyond this many calls in flight, scheduled calls are not sent (CLIENT_OVERLOADED) (default 1000)',
  ),
  option('warmupS', '--warmup-s', 'LOAD_WARMUP_S', 's', 'calls made but not counted before the run (default 0)'),
  option(
    'waitReadyS',
    '--wait-ready-s',
    'LOAD_WAIT_READY_S',
    's',
    'wait this long at most for the channels to be READY before the clock starts (default 30)',
  ),
  option(
    'nice',
    '--nice',
    'LOAD_NICE',
    'n',
    "CPU niceness, -20 to 19 (below 0 needs CAP_SYS_NICE): keeps the generator's own scheduling delay out of the latency when it shares cores with the pods under test (default: unchanged)",
  ),
  option('logLevel', '--log-level', 'LOG_LEVEL', 'level', `${LOG_LEVELS.join(', ')} (default info)`),
];

const number = () => z.number({ error: (issue) => (issue.code === 'invalid_type' ? 'expected a number' : undefined) });
const count = (max: number) => number().int('expected a whole number').min(1).max(max);
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s/]+):\d{1,5}$/, 'expected host:port');

const configSchema = z.strictObject({
  mode: z.enum(LOAD_MODES, { error: `expected one of ${LOAD_MODES.join(', ')}` }).default('skewless'),
  target: z
    .string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a string') })
    .trim()
    .min(1, 'must not be empty'),
  controlPlane: hostPort.optional(),
  zone: z.string().min(1, 'must not be empty').optional(),
  strategy: z.string().min(1, 'must not be empty').optional(),
  channels: count(1000).default(1),
  rate: number().positive().max(100_000).default(100),
  durationS: number().positive().max(MAX_DURATION_S).default(10),
  deadlineMs: count(600_000).default(2000),
  delayMs: number().int('expected a whole number').min(0).max(600_000).default(0),
  maxInFlight: count(1_000_000).default(1000),
  warmupS: number().min(0).max(MAX_DURATION_S).default(0),
  waitReadyS: number().min(0).max(600).default(30),
  nice: number().int('expected a whole number').min(-20).max(19).optional(),
  logLevel: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  client: z
    .string()
    .min(1)
    .default(() => hostname()),
  expectedPods: z.array(z.string().min(1)).optional(),
});

interface Issue {
  readonly key: string;
  readonly message: string;
}

/**
 * Checks across fields, from the raw values so they are reported together with every field's own
 * problems (zod runs refinements only once the object itself parsed).
 */
function crossFieldIssues(raw: Record<string, unknown>): Issue[] {
  const mode = raw.mode ?? 'skewless';
  const target = typeof raw.target === 'string' ? raw.target.trim() : undefined;
  const skewlessTarget = target?.startsWith('skewless:') ?? false;
  const issues: Issue[] = [];
  if (mode === 'skewless') {
    if (raw.controlPlane === undefined) issues.push({ key: 'controlPlane', message: 'required in skewless mode' });
    if (target && !skewlessTarget)
      issues.push({ key: 'target', message: 'skewless mode needs a skewless:///<namespace>/<service>:<port> target' });
  } else if (skewlessTarget && LOAD_MODES.includes(mode as LoadMode)) {
    issues.push({ key: 'target', message: 'a skewless: target needs --mode skewless' });
  }
  if (mode !== 'skewless' && raw.strategy !== undefined)
    issues.push({ key: 'strategy', message: `only skewless mode has strategies (${String(mode)} is grpc-js's own)` });
  return issues;
}

function parseRaw(raw: Record<string, unknown>): { ok: true; config: LoadConfig } | { ok: false; issues: Issue[] } {
  const result = configSchema.safeParse(raw);
  const issues: Issue[] = [
    ...(result.success
      ? []
      : result.error.issues.map((i) => ({ key: i.path.map(String).join('.'), message: i.message }))),
    ...crossFieldIssues(raw),
  ];
  if (result.success && issues.length === 0) return { ok: true, config: toConfig(result.data) };
  return { ok: false, issues };
}

export type LoadConfigResult = { ok: true; config: LoadConfig } | { ok: false; problems: Problem[] };

/** Raw option strings: flags keyed by config key (as commander names them), env by variable name. */
export interface LoadConfigSources {
  flags?: Partial<Record<OptionKey, string | undefined>>;
  env?: Record<string, string | undefined>;
}

/** Flags over env over defaults. An empty env variable counts as unset (templated manifests render them). */
export function parseLoadConfig(sources: LoadConfigSources): LoadConfigResult {
  const raw: Record<string, unknown> = {};
  const origins = new Map<string, { source: string; text: string }>();
  for (const { key, flag, env, numeric } of LOAD_OPTIONS) {
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
  const podName = sources.env?.POD_NAME;
  if (podName) raw.client = podName;
  const result = parseRaw(raw);
  if (result.ok) return result;
  const byKey = new Map(LOAD_OPTIONS.map((o) => [o.key as string, o]));
  return {
    ok: false,
    problems: result.issues.map(({ key, message }) => {
      const origin = origins.get(key);
      if (origin) return { path: origin.source, message: `${message} (got ${JSON.stringify(origin.text)})` };
      const known = byKey.get(key);
      return { path: known ? `${known.flag} / ${known.env}` : key || '(config)', message };
    }),
  };
}

/** A typed config for in-process use (tests, e2e): defaults under the given values; throws listing every problem. */
export function loadConfig(values: Partial<LoadConfig> & { target: string }): LoadConfig {
  const defined = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
  const result = parseRaw(defined);
  if (!result.ok) {
    const problems = result.issues.map(({ key, message }) => ({ path: key || '(config)', message }));
    throw new Error(`invalid load config:\n${formatProblemList(problems)}`);
  }
  return result.config;
}

function toConfig(data: z.output<typeof configSchema>): LoadConfig {
  return {
    ...data,
    controlPlane: data.controlPlane,
    zone: data.zone,
    strategy: data.strategy,
    nice: data.nice,
    expectedPods: data.expectedPods,
  };
}

/** NaN for anything that is not plainly a number, so the schema reports it instead of reading `''` as 0. */
function toNumber(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? Number.NaN : Number(trimmed);
}
