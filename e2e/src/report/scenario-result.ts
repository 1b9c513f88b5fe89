/**
 * The contract of `results/<scenario>.json` (the `ScenarioResult` the cluster scenarios write) and of
 * the `results/e2e.json` header, as zod schemas. The report validates every file it reads against them
 * and names each bad field by its path; e2e/schema/scenario-result.schema.json is generated from
 * `scenarioResultSchema` (write-schema.ts) and a test keeps the two equal.
 */
import { z } from 'zod';

const count = z.number().int().nonnegative();
const millis = z.number().nonnegative().nullable();

const podSchema = z.object({
  pod: z.string().min(1),
  zone: z.string(),
  node: z.string(),
  requests: count.describe('Requests this pod answered over the whole scenario.'),
  errors: count,
  p50Ms: millis.describe('Median latency in ms from the scheduled send time; null when the pod answered nothing.'),
  p99Ms: millis.describe('99th percentile latency in ms; null when the pod answered nothing.'),
});

const assertionSchema = z.object({
  name: z.string().min(1),
  threshold: z.string().describe('What passes, e.g. "= 0" or "≥ 2".'),
  value: z.union([z.number(), z.string()]),
  passed: z.boolean(),
});

const timelinePointSchema = z.object({
  t: count.describe('Second since the load started (each load pod counts from its own measured start).'),
  requests: count.describe('Requests that ended in this second, summed over the load pods.'),
  errors: count,
  perPod: z
    .record(z.string(), count)
    .optional()
    .describe('Requests per answering pod in this second, when the scenario keeps them.'),
  p99Ms: z.number().nonnegative().optional().describe('99th percentile latency of the second over every load pod.'),
});

const detailsSchema = z
  .looseObject({
    rolloutS: z.number().nonnegative().optional().describe('How long the rollout took, in seconds.'),
    rolloutStartS: z
      .number()
      .nonnegative()
      .optional()
      .describe('When the rollout started, in seconds on the timeline clock (t).'),
    rolloutEndS: z
      .number()
      .nonnegative()
      .optional()
      .describe('When the rollout was done, in seconds on the timeline clock (t).'),
    groups: z
      .record(
        z.string(),
        z.looseObject({
          client: z.string(),
          perPod: z.array(podSchema),
          metrics: z.record(z.string(), z.number().nullable()),
        }),
      )
      .optional()
      .describe('Each load group of the scenario file by name: its client, per-pod counts and metrics.'),
  })
  .describe('Scenario-specific facts; the report reads the rollout fields when present.');

export const scenarioResultSchema = z
  .object({
    scenario: z.string().min(1),
    driver: z.string().min(1).describe('The cluster driver, e.g. "local".'),
    startedAt: z.iso.datetime(),
    durationS: z.number().nonnegative(),
    perPod: z.array(podSchema),
    perZone: z
      .record(z.string(), z.record(z.string(), count))
      .describe('Requests by client zone, then by the answering pod’s zone: perZone[fromZone][toZone].'),
    totals: z.object({ requests: count, errors: count, byCode: z.record(z.string(), count) }),
    metrics: z
      .record(z.string(), z.number().nullable())
      .describe('maxOverMean, cv and sameZoneShare at least; null when there was nothing to measure.'),
    assertions: z.array(assertionSchema),
    timeline: z.array(timelinePointSchema),
    details: z.optional(detailsSchema),
  })
  .meta({
    title: 'Skewless scenario result',
    description: 'results/<scenario>.json, written by `make e2e` for every scenario it ran.',
  });

export type ReportedScenario = z.output<typeof scenarioResultSchema>;

/** The part of results/e2e.json the report shows as its header; the rest is ignored. */
export const e2eSummarySchema = z.object({
  commit: z.string().optional(),
  cluster: z.string().optional(),
  startedAt: z.iso.datetime(),
  durationS: z.number().nonnegative(),
  passed: z.boolean().optional(),
  timings: z.record(z.string(), z.number()).default({}),
  setupError: z.string().optional(),
  scenarios: z.array(z.object({ name: z.string(), passed: z.boolean(), error: z.string().optional() })).default([]),
});

export type E2eSummary = z.output<typeof e2eSummarySchema>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** Parses one results file; every problem is `<file>: <path>: <message>`, all of them, not just the first. */
export function parseResultFile<T>(schema: z.ZodType<T>, text: string, file: string): Parsed<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`${file}: not JSON: ${(error as Error).message}`] };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => `${file}: ${issuePath(issue.path)}: ${issue.message}`),
  };
}

/** `perPod[2].requests`; the root is `(root)`. */
export function issuePath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}

/** The JSON Schema (draft 2020-12) of a scenario result, as committed in e2e/schema/. */
export function scenarioResultJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(scenarioResultSchema, { io: 'input', target: 'draft-2020-12' });
}
