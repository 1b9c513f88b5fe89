/**
 * The k3s driver's options and the cluster spec it accepts: strict parse → defaults → every problem
 * with its path → a typed config. Nothing here touches Docker.
 */
import type { Logger } from '@skewless/shared';
import { formatProblemList, issueProblem, type Problem } from '@skewless/shared';
import { z } from 'zod';
import { pinnedVersion } from '../../pinned-versions.ts';
import { type ClusterSpec, DEFAULT_ZONES } from '../driver.ts';

/** The pinned image: `K3S_IMAGE` in tools/versions.env (the one place external versions live). */
export function defaultK3sImage(versionsFile?: string): string {
  return pinnedVersion('K3S_IMAGE', versionsFile);
}

export interface K3sClusterOptions {
  /** Default: `K3S_IMAGE` from tools/versions.env. */
  readonly image?: string;
  /**
   * `missing` (default): pull the image when the Docker engine lacks it. `never`: fail at once instead —
   * for machines with no registry, where a pull can only fail after a network timeout.
   */
  readonly pull?: 'missing' | 'never';
  /** Agent containers per zone (default 1). */
  readonly agentsPerZone?: number;
  /** Parent of the run dirs (kubeconfig, node logs, image tars); default `<repo>/.cluster`. */
  readonly parentDir?: string;
  /** Per container: from create to its ready log line (default 180 s: CI shares 2 cores). */
  readonly startupTimeoutMs?: number;
  /** From the last agent started to every node Ready (default 180 s). */
  readonly nodesReadyTimeoutMs?: number;
  /** The cluster outlives this process (`make cluster-up`): the next run's sweep leaves it alone. */
  readonly keep?: boolean;
  /** Print each step and its time on stderr (default true). */
  readonly progress?: boolean;
  readonly logger?: Logger;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/;
// A Docker reference: [registry[:port]/]path[:tag][@digest], lower-case path.
const IMAGE_REFERENCE =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

const optionsSchema = z.strictObject({
  image: z.string().regex(IMAGE_REFERENCE, 'not a Docker image reference (repository[:tag])').optional(),
  pull: z.enum(['missing', 'never']).default('missing'),
  agentsPerZone: z.number().int().min(1).max(4).default(1),
  parentDir: z.string().min(1).optional(),
  startupTimeoutMs: z.number().int().min(1000).default(180_000),
  nodesReadyTimeoutMs: z.number().int().min(1000).default(180_000),
  keep: z.boolean().default(false),
  progress: z.boolean().default(true),
});

const specSchema = z.object({
  zones: z
    .array(z.string().regex(DNS_LABEL, 'not a DNS label (lower-case letters, digits, "-", at most 42)'))
    .max(12, 'at most 12 zones (one container per agent)')
    .refine((zones) => new Set(zones).size === zones.length, 'zones must be distinct'),
  region: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/, 'not a valid label value'),
  keepOnFailure: z.boolean(),
});

export interface K3sConfig {
  readonly image: string;
  readonly pull: 'missing' | 'never';
  readonly agentsPerZone: number;
  readonly parentDir: string;
  readonly startupTimeoutMs: number;
  readonly nodesReadyTimeoutMs: number;
  readonly keep: boolean;
  readonly progress: boolean;
  readonly zones: readonly string[];
  readonly region: string;
  readonly keepOnFailure: boolean;
}

/** Every problem of options and spec together, each with its path; throws them all at once. */
export function k3sConfig(options: K3sClusterOptions, spec: ClusterSpec, defaultParentDir: string): K3sConfig {
  const { logger: _logger, ...data } = options;
  const parsedOptions = optionsSchema.safeParse(data);
  const parsedSpec = specSchema.safeParse({ ...spec, zones: spec.zones.length > 0 ? spec.zones : [...DEFAULT_ZONES] });
  const problems: Problem[] = [
    ...(parsedOptions.success ? [] : parsedOptions.error.issues.map((i) => issueProblem('options', i))),
    ...(parsedSpec.success ? [] : parsedSpec.error.issues.map((i) => issueProblem('spec', i))),
  ];
  if (!parsedOptions.success || !parsedSpec.success) {
    throw new Error(`k3s cluster: invalid configuration:\n${formatProblemList(problems)}`);
  }
  const o = parsedOptions.data;
  return {
    image: o.image ?? defaultK3sImage(),
    pull: o.pull,
    agentsPerZone: o.agentsPerZone,
    parentDir: o.parentDir ?? defaultParentDir,
    startupTimeoutMs: o.startupTimeoutMs,
    nodesReadyTimeoutMs: o.nodesReadyTimeoutMs,
    keep: o.keep,
    progress: o.progress,
    zones: parsedSpec.data.zones,
    region: parsedSpec.data.region,
    keepOnFailure: parsedSpec.data.keepOnFailure,
  };
}
