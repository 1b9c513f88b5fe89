/**
 * The one call an application makes: validates the config, registers the `skewless` resolver
 * scheme and LB policy with grpc-js (once per process), and returns a handle for introspection
 * and shutdown. Calling it again replaces the config for channels created afterwards; a bad
 * config throws ConfigError and leaves the previous one in force.
 */
import { experimental } from '@grpc/grpc-js';
import { createLogger, type Logger } from '@skewless/shared';
import type { AdsClientStatus } from './ads-client.ts';
import { allAdsClients, closeAllAdsClients } from './ads-client-pool.ts';
import { type BalancerSnapshot, liveBalancers } from './balancer-registry.ts';
import { type ClientConfig, type ClientConfigInput, parseClientConfig } from './config-client.ts';
import { type DnsLookup, systemDns } from './dns-fallback.ts';
import { LB_POLICY_NAME, SkewlessLbConfig } from './lb-config.ts';
import { SkewlessLoadBalancer } from './lb-policy.ts';
import { registerMetrics } from './metrics.ts';
import { createResolverClass, RESOLVER_SCHEME } from './resolver.ts';

export interface DebugSnapshot {
  readonly balancers: readonly BalancerSnapshot[];
  readonly controlPlanes: readonly AdsClientStatus[];
}

export interface Registration {
  readonly config: ClientConfig;
  /** Per-endpoint picks, in-flight, EWMA, ejections and zone routing state of every live channel. */
  debugSnapshot(): DebugSnapshot;
  /** Ends the shared ADS streams (channels keep their last endpoints). */
  close(): void;
}

export interface RegisterDeps {
  readonly logger?: Logger;
  /** Replaces system DNS for the fallback (tests). */
  readonly dns?: DnsLookup;
}

let current: ClientConfig | undefined;
let logger: Logger | undefined;
let dns: DnsLookup = systemDns;
let registered = false;

export function debugSnapshot(): DebugSnapshot {
  return {
    balancers: [...liveBalancers].map((b) => b.snapshot()),
    controlPlanes: allAdsClients().map((c) => c.status()),
  };
}

export function register(input: ClientConfigInput | Record<string, never> = {}, deps: RegisterDeps = {}): Registration {
  const config = parseClientConfig(input);
  current = config;
  logger = deps.logger ?? logger ?? createLogger('skewless-client');
  dns = deps.dns ?? dns;
  if (!registered) {
    experimental.registerResolver(
      RESOLVER_SCHEME,
      createResolverClass({
        config: () => current,
        logger: logger,
        dns: {
          resolveSrv: (n) => dns.resolveSrv(n),
          resolve4: (n) => dns.resolve4(n),
          resolve6: (n) => dns.resolve6(n),
        },
      }),
    );
    experimental.registerLoadBalancerType(LB_POLICY_NAME, SkewlessLoadBalancer, SkewlessLbConfig);
    registered = true;
  }
  if (config.metricsRegistry) registerMetrics(config.metricsRegistry);
  return { config, debugSnapshot, close: closeAllAdsClients };
}
