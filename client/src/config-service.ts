/**
 * Per-service balancing options: strict schema → defaults → typed options. Client config gives
 * `defaults` for every service and `services["<ns>/<svc>:<port>"]` overrides, merged field by
 * field. The same schema validates the `skewless` LB policy config inside a service config.
 */
import { z } from 'zod';
import { STRATEGY_NAMES } from './strategy.ts';

const nonNegativeInt = z.number().int().min(0);

export const serviceOptionsSchema = z.strictObject({
  /** Balancing strategy within the chosen zone. */
  strategy: z.enum(STRATEGY_NAMES).default('p2c'),
  /** How P2C draws its two candidates (see strategy.ts). */
  p2cSampling: z.enum(['distinct', 'independent']).default('distinct'),
  /** Below this share of healthy endpoints, ignore health and spread over all (Envoy: 50). */
  panicThresholdPercent: z.number().min(0).max(100).default(50),
  zoneAffinity: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Envoy's min_cluster_size: fewer healthy endpoints in total → no zone routing. */
      minClusterSize: z.number().int().min(1).default(6),
      /** Envoy's force_local_zone.min_size; unset = proportional routing only. */
      forceLocalMinSize: z.number().int().min(1).optional(),
      /**
       * Relative size of the calling fleet per zone ("local%" in Envoy's formula). The control
       * plane does not publish it yet; unset = every zone that has endpoints counts equally.
       */
      clientShares: z.record(z.string(), z.number().min(0)).optional(),
    })
    .prefault({}),
  slowStart: z
    .strictObject({
      /** 0 disables slow start. Endpoints present in the first assignment never ramp. */
      windowMs: nonNegativeInt.default(10_000),
      aggression: z.number().positive().default(1),
      minWeightPercent: z.number().min(0).max(100).default(10),
    })
    .prefault({}),
  outlierDetection: z
    .strictObject({
      enabled: z.boolean().default(true),
      intervalMs: z.number().int().min(100).default(10_000),
      baseEjectionMs: z.number().int().min(1).default(30_000),
      maxEjectionMs: z.number().int().min(1).default(300_000),
      maxEjectionPercent: z.number().min(0).max(100).default(10),
      /** 0 disables consecutive-failure ejection. */
      consecutiveFailures: nonNegativeInt.default(5),
      failurePercentage: z
        .strictObject({
          thresholdPercent: z.number().min(0).max(100).default(85),
          minimumHosts: z.number().int().min(1).default(5),
          requestVolume: z.number().int().min(1).default(100),
        })
        .nullable()
        .prefault({}),
    })
    .prefault({}),
});

export type ServiceOptions = z.infer<typeof serviceOptionsSchema>;
export type ServiceOptionsInput = z.input<typeof serviceOptionsSchema>;

/** Every zod issue as `path: message`, so a config error names all its problems at once. */
export function formatIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
    return `${path || '(root)'}: ${issue.message}`;
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Field-by-field merge of override onto base (objects merge, everything else replaces). */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = deepMerge(base[key], value);
  return out;
}
