/**
 * Declarative scenario files (`e2e/scenarios/*.yaml`, and any file given to `skewless reproduce`):
 * the echo fleet's shape and faults, the load groups that run at once (our client and baselines side
 * by side), at most one event during the load, and the assertions, each naming a measured metric and
 * a bound (a number or another metric). Parsing lists every problem with its path in the file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';

/** How a load group's clients reach the echo pods. */
export const CLIENTS = ['skewless', 'pick-first', 'round-robin', 'k6'] as const;
export type ClientKind = (typeof CLIENTS)[number];

const name = z.string().regex(/^[a-z][a-z0-9-]*$/, 'lowercase letters, digits and -, starting with a letter');
const positiveInt = z.number().int().min(1);
const seconds = z.number().positive().max(600);

const loadGroupSchema = z.strictObject({
  /** Prefix of this group's metrics: `<name>.maxOverMean`. */
  name,
  /**
   * `skewless`: our client through the control plane's EDS; `pick-first`: grpc-js's default through the
   * echo ClusterIP (kube-proxy); `round-robin`: grpc-js round_robin over the headless Service's DNS;
   * `k6`: k6 pods (e2e/k6/echo-load.ts) through the Envoy ingress or to the ClusterIP.
   */
  client: z.enum(CLIENTS),
  /** k6 only: `envoy` (the ingress Service, TLS; default) or `cluster-ip` (the echo ClusterIP, gRPC). */
  target: z.enum(['envoy', 'cluster-ip']).optional(),
  /** k6 only: Echo over gRPC (default) or GET /whoami over HTTP/2 (TLS, through Envoy). */
  protocol: z.enum(['grpc', 'http2']).optional(),
  /** Our client's balancing strategy (skewless only; default p2c). */
  strategy: z.string().min(1).optional(),
  /** Load client pods in each zone (default 1), or only in the zones listed in `zones`. */
  clientsPerZone: positiveInt.max(20).default(1),
  zones: z.array(z.string().min(1)).min(1).optional(),
  /** Long-lived channels (connections) per client; for k6, its VUs (one connection each). */
  channels: positiveInt.max(100).default(1),
  /** Requests per second, per client. */
  rate: z.number().positive().max(10_000),
  durationS: seconds,
  /** Calls made but not counted before the measured run. */
  warmupS: z.number().min(0).max(60).default(0),
  /** Echo delay_ms: how long the backend holds each call. */
  delayMs: z.number().int().min(0).max(10_000).default(0),
});

const faultSchema = z.strictObject({
  /** Which echo pod: the `pod`-th (0-based, by name) of `zone`, or of all pods when no zone is given. */
  zone: z.string().min(1).optional(),
  pod: z.number().int().min(0).default(0),
  latencyMs: z.number().min(0).max(10_000).optional(),
  errorRate: z.number().min(0).max(1).optional(),
});

const eventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('rollout-restart'),
    /** Seconds after every load client is running. */
    afterS: z.number().min(0).max(120),
  }),
  z.strictObject({ type: z.literal('scale'), afterS: z.number().min(0).max(120), podsPerZone: positiveInt.max(10) }),
  z.strictObject({
    type: z.literal('control-plane-outage'),
    afterS: z.number().min(0).max(120),
    /** How long the control plane stays at 0 replicas once its pod is gone. */
    forS: z.number().positive().max(300),
  }),
]);

const boundSchema = z.union([z.number(), z.string().min(1)]);

const assertionSchema = z
  .strictObject({
    /** `<group>.<metric>` or `<event>.<metric>`, e.g. `ours.maxOverMean`, `rollout.p99Ms`. */
    metric: z.string().regex(/^[a-z][a-zA-Z0-9-]*\.[a-zA-Z][a-zA-Z0-9]*$/, 'expected <group>.<metric>'),
    /** Passes when value ≤ max (a number, or a metric's value times `factor`). */
    max: boundSchema.optional(),
    min: boundSchema.optional(),
    /** Multiplies a bound given as a metric (e.g. p99 during the rollout ≤ 2 × steady state). */
    factor: z.number().positive().default(1),
    /** Shown beside the result: what the assertion stands for. */
    why: z.string().optional(),
  })
  .refine((a) => a.max !== undefined || a.min !== undefined, { message: 'give max, min or both' });

export const scenarioFileSchema = z.strictObject({
  name,
  description: z.string().min(1),
  /** Part of the subset `make test` runs. */
  quick: z.boolean().default(false),
  /** Where it runs in the suite (lower first; then by name): baselines before what they compare with. */
  order: z.number().int().default(100),
  /** The cluster for `skewless reproduce` (make e2e's shared cluster is 3 zones). */
  cluster: z.strictObject({ zones: positiveInt.max(6).default(3) }).prefault({}),
  backends: z
    .strictObject({
      /** Echo pods per zone during the scenario (the Deployment is scaled back afterwards). */
      podsPerZone: positiveInt.max(10).optional(),
      faults: z.array(faultSchema).default([]),
      /** Shrinks one zone to `keep` ready pods (its node tainted, the rest deleted) for the scenario. */
      zoneDown: z.strictObject({ zone: z.string().min(1), keep: z.number().int().min(0) }).optional(),
    })
    .prefault({}),
  load: z.array(loadGroupSchema).min(1),
  event: eventSchema.optional(),
  /** The group whose per-pod counts, zones and timeline are the result's own (default: the first). */
  primary: name.optional(),
  assert: z.array(assertionSchema).min(1),
});

export type ScenarioFile = z.output<typeof scenarioFileSchema>;
export type LoadGroup = ScenarioFile['load'][number];
export type ScenarioEvent = NonNullable<ScenarioFile['event']>;
export type ScenarioAssertion = ScenarioFile['assert'][number];

/** Metric prefixes that are not load groups: each belongs to a setup step or an event. */
export const EVENT_PREFIXES = {
  all: 'every load group together',
  rollout: 'event rollout-restart',
  scale: 'event scale',
  outage: 'event control-plane-outage',
  zoneDown: 'backends.zoneDown',
  envoy: 'a k6 load group through the Envoy ingress',
} as const;

export class ScenarioFileError extends Error {
  readonly problems: readonly string[];

  constructor(file: string, problems: readonly string[]) {
    super(`${file}: invalid scenario file:\n  ${problems.join('\n  ')}`);
    this.name = 'ScenarioFileError';
    this.problems = problems;
  }
}

/** Parses and checks one scenario file's text; throws ScenarioFileError naming every problem. */
export function parseScenarioFile(text: string, file: string): ScenarioFile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` (line ${error.linePos[0].line})` : '';
    throw new ScenarioFileError(file, [`not YAML${where}: ${(error as Error).message.split('\n')[0]}`]);
  }
  const parsed = scenarioFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ScenarioFileError(
      file,
      parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(file)'}: ${issue.message}`),
    );
  }
  const problems = crossChecks(parsed.data);
  if (problems.length > 0) throw new ScenarioFileError(file, problems);
  return parsed.data;
}

export function readScenarioFile(file: string): ScenarioFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ScenarioFileError(file, [`cannot read: ${(error as Error).message}`]);
  }
  return parseScenarioFile(text, file);
}

/** Every `*.yaml` in a folder, by name; a bad file throws naming its problems, and so do duplicate names. */
export function readScenarioDir(dir: string): ScenarioFile[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  const read = files.map((file) => ({ file, scenario: readScenarioFile(path.join(dir, file)) }));
  const seen = new Map<string, string>();
  for (const { file, scenario } of read) {
    const earlier = seen.get(scenario.name);
    if (earlier) throw new ScenarioFileError(file, [`name: '${scenario.name}' is also the name in ${earlier}`]);
    seen.set(scenario.name, file);
  }
  return read.map((r) => r.scenario).sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

/** What a field-by-field schema cannot see: references between parts of the file. */
function crossChecks(s: ScenarioFile): string[] {
  const problems: string[] = [];
  const groups = new Set<string>();
  s.load.forEach((g, i) => {
    if (groups.has(g.name)) problems.push(`load[${i}].name: '${g.name}' is used by an earlier group`);
    groups.add(g.name);
    if (g.name in EVENT_PREFIXES) problems.push(`load[${i}].name: '${g.name}' is reserved for the ${g.name} metrics`);
    if (g.strategy !== undefined && g.client !== 'skewless')
      problems.push(`load[${i}].strategy: only the skewless client has strategies (${g.client} is grpc-js's own)`);
    if (g.client !== 'k6' && (g.target !== undefined || g.protocol !== undefined))
      problems.push(`load[${i}]: target and protocol are k6's (this group's client is ${g.client})`);
    if (g.client === 'k6' && g.warmupS > 0) problems.push(`load[${i}].warmupS: k6 groups have no warm-up`);
    if (g.client === 'k6' && g.protocol === 'http2' && g.target === 'cluster-ip')
      problems.push(`load[${i}].protocol: http2 goes through the Envoy ingress (the backends speak HTTP/1.1)`);
    if (s.event && s.event.afterS >= g.durationS + g.warmupS)
      problems.push(`event.afterS: ${s.event.afterS} s is after load[${i}] ('${g.name}') has ended`);
  });
  if (s.primary !== undefined && !groups.has(s.primary))
    problems.push(`primary: '${s.primary}' is not a load group (${[...groups].join(', ')})`);
  const prefixes: Record<string, boolean> = {
    all: true,
    rollout: s.event?.type === 'rollout-restart',
    scale: s.event?.type === 'scale',
    outage: s.event?.type === 'control-plane-outage',
    zoneDown: s.backends.zoneDown !== undefined,
    envoy: s.load.some((g) => g.client === 'k6' && g.target !== 'cluster-ip'),
  };
  const metricPrefix = (metric: string, where: string) => {
    const prefix = metric.split('.')[0] ?? '';
    if (groups.has(prefix)) return;
    if (prefix in prefixes) {
      if (!prefixes[prefix])
        problems.push(`${where}: '${metric}' needs ${EVENT_PREFIXES[prefix as keyof typeof EVENT_PREFIXES]}`);
      return;
    }
    problems.push(
      `${where}: '${prefix}' is neither a load group (${[...groups].join(', ')}) nor one of ${Object.keys(EVENT_PREFIXES).join(', ')}`,
    );
  };
  s.assert.forEach((a, i) => {
    metricPrefix(a.metric, `assert[${i}].metric`);
    for (const bound of ['max', 'min'] as const) {
      const value = a[bound];
      if (typeof value === 'string') metricPrefix(value, `assert[${i}].${bound}`);
    }
  });
  return problems;
}
