/**
 * `register()` options: strict parse → defaults (including env) → validate with every problem
 * listed → typed config. A bad config throws ConfigError and leaves the previous one in force.
 */
import os from 'node:os';
import { parseServiceKey } from '@skewless/shared';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { deepMerge, formatIssues, type ServiceOptions, serviceOptionsSchema } from './config-service.ts';

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid skewless client config:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s/]+):\d{1,5}$/, 'expected host:port');

const clientConfigSchema = z.strictObject({
  /** ADS server, `host:port`. Env SKEWLESS_CONTROL_PLANE. */
  controlPlane: hostPort,
  /** This client's zone. Env SKEWLESS_ZONE; else learned from the assignment (see README). */
  zone: z.string().min(1).optional(),
  /** xDS node.id; default `<POD_NAMESPACE>/<POD_NAME>` or `<hostname>-<pid>`. */
  nodeId: z.string().min(1).optional(),
  /** Options for every service, then per-service overrides keyed `<namespace>/<service>:<port>`. */
  defaults: z.unknown().optional(),
  services: z.record(z.string(), z.unknown()).default({}),
  xds: z
    .strictObject({
      initialBackoffMs: z.number().int().min(1).default(1_000),
      maxBackoffMs: z.number().int().min(1).default(30_000),
    })
    .prefault({}),
  /**
   * Fallback to the headless Service's DNS, used only while the control plane has never answered
   * for a service (SRV `_<port>._tcp.<svc>.<ns>.svc.<domain>` for named ports, A/AAAA otherwise).
   */
  dnsFallback: z
    .strictObject({
      enabled: z.boolean().default(false),
      domain: z.string().default('cluster.local'),
      /** How long to wait for the control plane's first answer before falling back. */
      afterMs: z.number().int().min(0).default(5_000),
    })
    .prefault({}),
  /** Optional prom-client registry to publish client metrics into. */
  metrics: z
    .strictObject({
      registry: z.custom<Registry>((v) => typeof v === 'object' && v !== null, 'expected a prom-client Registry'),
    })
    .optional(),
});

export type ClientConfigInput = z.input<typeof clientConfigSchema>;

export interface ClientConfig {
  readonly controlPlane: string;
  readonly zone: string | undefined;
  readonly node: { readonly id: string; readonly metadata: Record<string, string | boolean> };
  readonly xds: { readonly initialBackoffMs: number; readonly maxBackoffMs: number };
  readonly dnsFallback: { readonly enabled: boolean; readonly domain: string; readonly afterMs: number };
  readonly metricsRegistry: Registry | undefined;
  /** Effective options for a service (defaults merged with its override). */
  serviceOptions(service: string): ServiceOptions;
}

export function parseClientConfig(input: unknown, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const raw = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const withEnv = {
    ...raw,
    controlPlane: raw.controlPlane ?? env.SKEWLESS_CONTROL_PLANE,
    zone: raw.zone ?? (env.SKEWLESS_ZONE || undefined),
  };
  const parsed = clientConfigSchema.safeParse(withEnv);
  const problems: string[] = parsed.success ? [] : formatIssues(parsed.error);
  if (withEnv.controlPlane === undefined) problems.push('controlPlane: required (or set SKEWLESS_CONTROL_PLANE)');

  // Validate the defaults and every override now, so a typo fails at register(), not at first call.
  const defaults = deepMerge({}, raw.defaults ?? {});
  const resolved = new Map<string, ServiceOptions>();
  const check = (options: unknown, path: string): ServiceOptions | undefined => {
    const result = serviceOptionsSchema.safeParse(options);
    if (!result.success) problems.push(...formatIssues(result.error, path));
    return result.success ? result.data : undefined;
  };
  const defaultOptions = check(defaults, 'defaults');
  for (const [name, override] of Object.entries((raw.services ?? {}) as Record<string, unknown>)) {
    const key = parseServiceKey(name);
    if (!key.ok) problems.push(`services.${name}: ${key.error}`);
    const options = check(deepMerge(defaults, override), `services.${name}`);
    if (options) resolved.set(name, options);
  }
  if (problems.length > 0 || !parsed.success || !defaultOptions) throw new ConfigError([...new Set(problems)]);

  const config = parsed.data;
  const podName = env.POD_NAME;
  const podNamespace = env.POD_NAMESPACE;
  const metadata: Record<string, string | boolean> = {};
  // We route by zone ourselves, so ask for the flat assignment; without a zone, ask for per-caller
  // priorities (even if the server does not default to them): the zone the control plane resolves
  // for us (from POD_NAME/POD_NAMESPACE → Node) comes back alone at priority 0 (eds-assignment.ts).
  metadata['skewless.zone_priority'] = !withEnv.zone;
  if (podName) metadata.POD_NAME = podName;
  if (podNamespace) metadata.POD_NAMESPACE = podNamespace;
  if (env.NODE_NAME) metadata.NODE_NAME = env.NODE_NAME;
  return {
    controlPlane: config.controlPlane,
    zone: config.zone,
    node: {
      id: config.nodeId ?? (podName && podNamespace ? `${podNamespace}/${podName}` : `${os.hostname()}-${process.pid}`),
      metadata,
    },
    xds: config.xds,
    dnsFallback: config.dnsFallback,
    metricsRegistry: config.metrics?.registry,
    serviceOptions: (service) => resolved.get(service) ?? defaultOptions,
  };
}
