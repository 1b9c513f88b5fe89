/**
 * The `existing` driver's options and the kubeconfig context it will use: strict parse → defaults →
 * every problem with its path → typed config. Reads the kubeconfig file(s); contacts nothing.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type Cluster, type Context, KubeConfig, type User } from '@kubernetes/client-node';
import { formatProblemList, issueProblem, type Logger, type Problem } from '@skewless/shared';
import { z } from 'zod';
import { DEFAULT_PRODUCTION_PATTERN } from './existing-guard.ts';

/** The manifests' namespace (manifests/base/kustomization.yaml; e2e's NAMESPACE). */
export const DEFAULT_NAMESPACES = ['skewless'] as const;

export interface ExistingClusterOptions {
  /** kubeconfig file(s), `:`-separated like KUBECONFIG; default KUBECONFIG, then ~/.kube/config. */
  readonly kubeconfig?: string;
  /** Default: the kubeconfig's current context. */
  readonly context?: string;
  /** The exact context name, to run against a context that looks like production. */
  readonly confirmContext?: string;
  /** Regular expression (source, matched case-insensitively) for production-looking names; default `prod|prd`. */
  readonly productionPattern?: string;
  /** The namespaces the run works in, created by it and deleted after (default: `skewless`). */
  readonly namespaces?: readonly string[];
  /** Registry prefix our images are pushed under, e.g. `registry.example.com/team`. */
  readonly registry?: string;
  /** Tag the pushed images get (default: their own, e.g. `dev`). */
  readonly imageTag?: string;
  /**
   * The nodes already have our images under their own names (preloaded, or the embedded local cluster,
   * whose node agent maps names to commands): push nothing. Exclusive with `registry`.
   */
  readonly imagesOnNodes?: boolean;
  /** Docker CLI (default `docker`). */
  readonly docker?: string;
  /** Zones needed when the spec names none (default 3: the echo Deployment spreads over three). */
  readonly minZones?: number;
  /** How long delete() waits for its namespaces to be gone (default 180 s); then it reports and returns. */
  readonly namespaceGoneTimeoutMs?: number;
  /** Parent of the run dir holding the single-context kubeconfig (default `<repo>/.cluster`). */
  readonly parentDir?: string;
  readonly progress?: boolean;
  readonly logger?: Logger;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ZONE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

const optionsSchema = z.strictObject({
  kubeconfig: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  confirmContext: z.string().min(1).optional(),
  productionPattern: z
    .string()
    .min(1)
    .refine((source) => {
      try {
        new RegExp(source, 'i');
        return true;
      } catch {
        return false;
      }
    }, 'not a regular expression')
    .optional(),
  namespaces: z
    .array(z.string().regex(DNS_LABEL, 'not a namespace name (a DNS label)'))
    .min(1)
    .refine((list) => new Set(list).size === list.length, 'namespaces must be distinct')
    .default([...DEFAULT_NAMESPACES]),
  registry: z
    .string()
    .regex(/^[a-zA-Z0-9.-]+(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*\/?$/, 'not a registry prefix (host[:port][/path])')
    .optional(),
  imageTag: z
    .string()
    .regex(/^[\w][\w.-]{0,127}$/, 'not an image tag')
    .optional(),
  imagesOnNodes: z.boolean().default(false),
  docker: z.string().min(1).default('docker'),
  minZones: z.number().int().min(1).default(3),
  namespaceGoneTimeoutMs: z.number().int().min(0).default(180_000),
  parentDir: z.string().min(1).optional(),
  progress: z.boolean().default(true),
});

export interface ExistingConfig {
  readonly kubeconfigPaths: readonly string[];
  readonly kubeConfig: KubeConfig;
  readonly context: Context;
  readonly cluster: Cluster;
  readonly user: User;
  readonly confirmContext: string | undefined;
  readonly productionPattern: RegExp;
  readonly namespaces: readonly string[];
  readonly registry: string | undefined;
  readonly imageTag: string | undefined;
  readonly imagesOnNodes: boolean;
  readonly docker: string;
  readonly minZones: number;
  readonly namespaceGoneTimeoutMs: number;
  readonly parentDir: string;
  readonly progress: boolean;
  readonly zones: readonly string[];
  readonly region: string;
}

export function existingConfig(
  options: ExistingClusterOptions,
  spec: { zones: readonly string[]; region: string },
  defaultParentDir: string,
): ExistingConfig {
  const { logger: _logger, ...data } = options;
  const parsed = optionsSchema.safeParse(data);
  const problems: Problem[] = parsed.success ? [] : parsed.error.issues.map((i) => issueProblem('options', i));
  spec.zones.forEach((zone, i) => {
    if (!ZONE.test(zone)) problems.push({ path: `spec.zones[${i}]`, message: 'not a label value' });
  });
  if (new Set(spec.zones).size !== spec.zones.length)
    problems.push({ path: 'spec.zones', message: 'zones must be distinct' });
  if (parsed.success && parsed.data.imagesOnNodes && parsed.data.registry !== undefined)
    problems.push({ path: 'options.imagesOnNodes', message: 'nothing is pushed with imagesOnNodes: drop registry' });
  if (!parsed.success || problems.length > 0) {
    throw new Error(`existing cluster: invalid configuration:\n${formatProblemList(problems)}`);
  }
  const o = parsed.data;
  const paths = kubeconfigPaths(o.kubeconfig);
  const kubeConfig = loadKubeconfigs(paths);
  const contextName = o.context ?? kubeConfig.getCurrentContext();
  const context = contextName ? kubeConfig.getContextObject(contextName) : null;
  if (!context) {
    const known = kubeConfig.getContexts().map((c) => c.name);
    throw new Error(
      `existing cluster: ${contextName ? `context "${contextName}" is not` : 'no current context is set'} in ${paths.join(delimiter)} ` +
        `(contexts: ${known.length > 0 ? known.join(', ') : 'none'}); pass a context`,
    );
  }
  const cluster = kubeConfig.getCluster(context.cluster);
  const user = kubeConfig.getUser(context.user);
  if (!cluster)
    throw new Error(
      `existing cluster: context "${context.name}" names cluster "${context.cluster}", which is not in the kubeconfig`,
    );
  if (!user)
    throw new Error(
      `existing cluster: context "${context.name}" names user "${context.user}", which is not in the kubeconfig`,
    );
  return {
    kubeconfigPaths: paths,
    kubeConfig,
    context,
    cluster,
    user,
    confirmContext: o.confirmContext,
    productionPattern: o.productionPattern ? new RegExp(o.productionPattern, 'i') : DEFAULT_PRODUCTION_PATTERN,
    namespaces: o.namespaces,
    registry: o.registry,
    imageTag: o.imageTag,
    imagesOnNodes: o.imagesOnNodes,
    docker: o.docker,
    minZones: o.minZones,
    namespaceGoneTimeoutMs: o.namespaceGoneTimeoutMs,
    parentDir: o.parentDir ?? defaultParentDir,
    progress: o.progress,
    zones: [...spec.zones],
    region: spec.region,
  };
}

function kubeconfigPaths(option: string | undefined): string[] {
  const source = option ?? process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
  const paths = source.split(delimiter).filter(Boolean);
  const present = paths.filter((p) => existsSync(p));
  if (present.length === 0) {
    throw new Error(
      `existing cluster: no kubeconfig at ${paths.join(delimiter) || '(empty path)'}; set KUBECONFIG or pass a kubeconfig path`,
    );
  }
  return present;
}

/** kubectl's rule for several files: the first file to define a name wins; current-context from the first that sets one. */
function loadKubeconfigs(paths: readonly string[]): KubeConfig {
  const merged = new KubeConfig();
  merged.loadFromOptions({ clusters: [], users: [], contexts: [], currentContext: '' });
  for (const path of paths) {
    const one = new KubeConfig();
    try {
      one.loadFromFile(path);
    } catch (error) {
      throw new Error(`existing cluster: kubeconfig ${path} cannot be read: ${(error as Error).message}`);
    }
    for (const c of one.getClusters()) if (!merged.getCluster(c.name)) merged.addCluster(c);
    for (const u of one.getUsers()) if (!merged.getUser(u.name)) merged.addUser(u);
    for (const c of one.getContexts()) if (!merged.getContextObject(c.name)) merged.addContext(c);
    if (!merged.getCurrentContext() && one.getCurrentContext()) merged.setCurrentContext(one.getCurrentContext());
  }
  return merged;
}

/** A kubeconfig with only the chosen context, current: `kubectl --kubeconfig` then cannot pick another. */
export function singleContextKubeConfig(config: ExistingConfig): KubeConfig {
  const single = new KubeConfig();
  single.loadFromOptions({
    clusters: [config.cluster],
    users: [config.user],
    contexts: [config.context],
    currentContext: config.context.name,
  });
  return single;
}
