/**
 * The kind driver's options and the cluster spec it accepts: strict parse → defaults → every problem
 * with its path → a typed config. Nothing here runs kind or touches Docker.
 */
import type { Logger } from '@skewless/shared';
import { formatProblemList, issueProblem, type Problem } from '@skewless/shared';
import { z } from 'zod';
import { pinnedVersion } from '../../pinned-versions.ts';
import { type ClusterSpec, DEFAULT_ZONES } from '../driver.ts';

export { pinnedVersion } from '../../pinned-versions.ts';

export interface KindClusterOptions {
  /** Node image; default `KIND_NODE_IMAGE` from tools/versions.env (a digest kind's release lists). */
  readonly nodeImage?: string;
  /** Worker nodes per zone; default enough for at least 3 workers (1 per zone with 3 zones). */
  readonly workersPerZone?: number;
  /** The kind binary; default `.tools/bin/kind` (scripts/tools.sh kind). */
  readonly kindPath?: string;
  /** The Docker engine kind and `docker` talk to (`unix:///…/docker.sock`); default `$DOCKER_HOST`, else Docker's default. */
  readonly dockerHost?: string;
  /**
   * Images `loadImages` finds missing from the Docker engine: `missing` (default) pulls public ones on this
   * machine first, then loads them; `never` leaves them to the nodes' own pull. Ours (`skewless/*`) are never
   * pulled: they must be built (`make images`).
   */
  readonly pull?: 'missing' | 'never';
  /** Parent of the run dirs (kind config, kubeconfig, ownership record); default `<repo>/.cluster`. */
  readonly parentDir?: string;
  /** `kind create cluster` as a whole (default 10 min: it pulls the node image on a fresh runner). */
  readonly createTimeoutMs?: number;
  /** From `kind create cluster` done to every node Ready (default 180 s). */
  readonly nodesReadyTimeoutMs?: number;
  /** The cluster outlives this process (`make cluster-up`): the next run's sweep leaves it alone. */
  readonly keep?: boolean;
  /** Print each step, its time and kind's own progress lines on stderr (default true). */
  readonly progress?: boolean;
  readonly logger?: Logger;
}

// kind: `^[a-z0-9.-]+$`, and the control-plane container adds 14 characters to a 50-character budget.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/;
const LABEL_VALUE = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;
const IMAGE_REFERENCE =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const MAX_WORKERS = 12;
export const MIN_WORKERS = 3;

const optionsSchema = z.strictObject({
  nodeImage: z.string().regex(IMAGE_REFERENCE, 'not a Docker image reference (repository[:tag][@sha256:…])').optional(),
  workersPerZone: z.number().int().min(1).max(MAX_WORKERS).optional(),
  kindPath: z.string().min(1).optional(),
  dockerHost: z
    .string()
    .regex(/^(unix|tcp|ssh|npipe):\/\/\S+$/, 'not a Docker host (unix:///path, tcp://host:port, ssh://…)')
    .optional(),
  pull: z.enum(['missing', 'never']).default('missing'),
  parentDir: z.string().min(1).optional(),
  createTimeoutMs: z.number().int().min(1000).default(600_000),
  nodesReadyTimeoutMs: z.number().int().min(1000).default(180_000),
  keep: z.boolean().default(false),
  progress: z.boolean().default(true),
});

const specSchema = z.object({
  zones: z
    .array(z.string().regex(DNS_LABEL, 'not a DNS label (lower-case letters, digits, "-", at most 42)'))
    .min(1)
    .max(MAX_WORKERS, `at most ${MAX_WORKERS} zones (a container per worker)`)
    .refine((zones) => new Set(zones).size === zones.length, 'zones must be distinct'),
  region: z.string().regex(LABEL_VALUE, 'not a valid label value'),
  keepOnFailure: z.boolean(),
});

export interface KindConfig {
  readonly nodeImage: string;
  readonly workersPerZone: number;
  readonly kindPath: string | undefined;
  readonly dockerHost: string | undefined;
  readonly pull: 'missing' | 'never';
  readonly parentDir: string;
  readonly createTimeoutMs: number;
  readonly nodesReadyTimeoutMs: number;
  readonly keep: boolean;
  readonly progress: boolean;
  readonly zones: readonly string[];
  readonly region: string;
  readonly keepOnFailure: boolean;
}

/**
 * Every problem of options and spec together, each with its path; throws them all at once.
 * `env` supplies `DOCKER_HOST` when the options name no engine.
 */
export function kindConfig(
  options: KindClusterOptions,
  spec: ClusterSpec,
  defaultParentDir: string,
  env: NodeJS.ProcessEnv = process.env,
): KindConfig {
  const { logger: _logger, ...data } = options;
  const parsedOptions = optionsSchema.safeParse(data);
  const zones = spec.zones.length > 0 ? spec.zones : [...DEFAULT_ZONES];
  const parsedSpec = specSchema.safeParse({ ...spec, zones });
  const problems: Problem[] = [
    ...(parsedOptions.success ? [] : parsedOptions.error.issues.map((i) => issueProblem('options', i))),
    ...(parsedSpec.success ? [] : parsedSpec.error.issues.map((i) => issueProblem('spec', i))),
  ];
  const workersPerZone = options.workersPerZone ?? Math.ceil(MIN_WORKERS / Math.max(1, zones.length));
  const workers = workersPerZone * zones.length;
  if (parsedOptions.success && parsedSpec.success) {
    if (workers < MIN_WORKERS) {
      problems.push({
        path: 'options.workersPerZone',
        message: `${workersPerZone} per zone × ${zones.length} zone(s) = ${workers} workers; at least ${MIN_WORKERS} are needed`,
      });
    }
    if (workers > MAX_WORKERS) {
      problems.push({
        path: 'options.workersPerZone',
        message: `${workersPerZone} per zone × ${zones.length} zones = ${workers} workers; at most ${MAX_WORKERS} (a container each)`,
      });
    }
  }
  if (!parsedOptions.success || !parsedSpec.success || problems.length > 0) {
    throw new Error(`kind cluster: invalid configuration:\n${formatProblemList(problems)}`);
  }
  const o = parsedOptions.data;
  return {
    nodeImage: o.nodeImage ?? pinnedVersion('KIND_NODE_IMAGE'),
    workersPerZone,
    kindPath: o.kindPath,
    dockerHost: o.dockerHost ?? (env.DOCKER_HOST || undefined),
    pull: o.pull,
    parentDir: o.parentDir ?? defaultParentDir,
    createTimeoutMs: o.createTimeoutMs,
    nodesReadyTimeoutMs: o.nodesReadyTimeoutMs,
    keep: o.keep,
    progress: o.progress,
    zones: parsedSpec.data.zones,
    region: parsedSpec.data.region,
    keepOnFailure: parsedSpec.data.keepOnFailure,
  };
}
