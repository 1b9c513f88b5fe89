/**
 * Fault injection for the instrumented backend: the settings (changed at run time over PUT /fault)
 * and the pure per-call plan drawn from them: how long to wait, how long to burn CPU, whether to fail.
 * Randomness comes in as `random()` so tests can seed it.
 */
import { status } from '@grpc/grpc-js';
import type { Problem } from '@skewless/shared';
import { z } from 'zod';

/** gRPC status names an injected error may carry (every one but OK). */
export const ERROR_CODE_NAMES = [
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;
export type ErrorCodeName = (typeof ERROR_CODE_NAMES)[number];

/** Ten minutes: longer than any deadline a test or load run would set. */
const MAX_LATENCY_MS = 600_000;
const MAX_CPU_WORK_MS = 60_000;

/** A number whose type error reads plainly; range errors keep zod's own messages. */
export const number = () =>
  z.number({
    error: (issue) =>
      issue.code !== 'invalid_type'
        ? undefined
        : issue.expected === 'int'
          ? 'expected a whole number'
          : 'expected a number',
  });

/** One schema per setting, shared by the flags/env config and the PUT /fault body. */
export const faultFields = {
  latencyMs: number().int().min(0).max(MAX_LATENCY_MS),
  latencyJitterMs: number().int().min(0).max(MAX_LATENCY_MS),
  cpuWorkMs: number().int().min(0).max(MAX_CPU_WORK_MS),
  errorRate: number().min(0).max(1),
  errorCode: z.preprocess(
    (value) => (typeof value === 'string' ? value.toUpperCase() : value),
    z.enum(ERROR_CODE_NAMES, { error: `expected a gRPC status name other than OK: ${ERROR_CODE_NAMES.join(', ')}` }),
  ),
};

export interface FaultSettings {
  /** Added to every call. */
  readonly latencyMs: number;
  /** Uniform extra latency in [0, latencyJitterMs). */
  readonly latencyJitterMs: number;
  /** Busy-loop this long per call (blocks the event loop, as CPU-bound work does). */
  readonly cpuWorkMs: number;
  /** Fraction of calls failed, 0..1. */
  readonly errorRate: number;
  /** Status of the injected failures. */
  readonly errorCode: ErrorCodeName;
}

export const DEFAULT_FAULTS: FaultSettings = {
  latencyMs: 0,
  latencyJitterMs: 0,
  cpuWorkMs: 0,
  errorRate: 0,
  errorCode: 'UNAVAILABLE',
};

const faultPatchSchema = z.strictObject(faultFields).partial();

export type FaultPatchResult = { ok: true; settings: FaultSettings } | { ok: false; problems: Problem[] };

/** A PUT /fault body over the current settings: the fields it names change, the others stay. */
export function patchFaults(current: FaultSettings, body: unknown): FaultPatchResult {
  const result = faultPatchSchema.safeParse(body);
  if (!result.success) {
    return {
      ok: false,
      problems: result.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.') || '(body)',
        message: issue.message,
      })),
    };
  }
  const patch = Object.fromEntries(Object.entries(result.data).filter(([, value]) => value !== undefined));
  return { ok: true, settings: { ...current, ...patch } };
}

export interface Warmup {
  /** How long after start the pod is cold; 0 disables warm-up. */
  readonly durationMs: number;
  /** Extra latency right at start. */
  readonly latencyMs: number;
}

/** A cold pod's extra latency `elapsedMs` after start: `latencyMs` at 0, falling linearly to 0 at `durationMs`. */
export function warmupExtraMs(warmup: Warmup, elapsedMs: number): number {
  if (warmup.durationMs <= 0 || warmup.latencyMs <= 0 || elapsedMs >= warmup.durationMs) return 0;
  return warmup.latencyMs * (1 - Math.max(0, elapsedMs) / warmup.durationMs);
}

export interface CallPlan {
  /** Wait before answering: latency + jitter + warm-up (the request's own delay_ms comes on top). */
  readonly delayMs: number;
  readonly cpuWorkMs: number;
  /** The injected failure, or null to answer normally. */
  readonly error: { readonly code: status; readonly name: ErrorCodeName } | null;
}

/** Draws one call's faults. `random()` is uniform in [0, 1), so error rate 1 fails every call. */
export function planCall(settings: FaultSettings, warmupMs: number, random: () => number): CallPlan {
  const failed = settings.errorRate > 0 && random() < settings.errorRate;
  const jitterMs = settings.latencyJitterMs > 0 ? random() * settings.latencyJitterMs : 0;
  return {
    delayMs: settings.latencyMs + jitterMs + warmupMs,
    cpuWorkMs: settings.cpuWorkMs,
    error: failed ? { code: status[settings.errorCode], name: settings.errorCode } : null,
  };
}
