/**
 * The `skewless:` resolver. `skewless:///<namespace>/<service>:<port>` watches the EDS resource of
 * that name on the shared ADS stream (`skewless://<host:port>/...` names another control plane)
 * and hands grpc-js the endpoint addresses, a service config selecting the `skewless` LB policy
 * with this service's options, and the per-endpoint xDS data through endpoint-info.ts.
 *
 * Static stability: after the first good assignment, errors are only logged; the channel keeps
 * the last good endpoints. Before it, an error fails calls with a message that says why, unless
 * the DNS fallback is enabled, in which case DNS fills in until the control plane answers.
 */
import { type ChannelOptions, experimental, status } from '@grpc/grpc-js';
import { type Logger, parseServiceKey, type ServiceKey } from '@skewless/shared';
import type { EdsWatcher } from './ads-client.ts';
import { sharedAdsClient } from './ads-client-pool.ts';
import type { ClientConfig } from './config-client.ts';
import { type DnsLookup, resolveHeadlessService } from './dns-fallback.ts';
import type { AssignedEndpoint, EndpointAssignment } from './eds-assignment.ts';
import { ENDPOINT_INFO_OPTION, type EndpointInfo } from './endpoint-info.ts';
import { LB_POLICY_NAME } from './lb-config.ts';

export const RESOLVER_SCHEME = 'skewless';

/** What an assignment says about zones beyond the endpoints: ours, and the fleet's shares. */
type ZoneData = Pick<EndpointAssignment, 'callerZoneHint' | 'clientShares'>;

/**
 * Channel option overriding this client's zone for one channel (several simulated clients in one
 * process, or an app that proxies for callers in other zones).
 */
export const ZONE_CHANNEL_OPTION = 'skewless.zone';

type ParsedTarget =
  | { ok: true; key: ServiceKey; name: string; controlPlane: string | undefined }
  | { ok: false; error: string };

export function parseTarget(target: experimental.GrpcUri): ParsedTarget {
  const text = experimental.uriToString(target);
  const parsed = parseServiceKey(target.path.replace(/^\//, ''));
  if (!parsed.ok) return { ok: false, error: `invalid skewless target "${text}": ${parsed.error}` };
  return {
    ok: true,
    key: parsed.value,
    name: target.path.replace(/^\//, ''),
    controlPlane: target.authority || undefined,
  };
}

export interface ResolverDeps {
  config(): ClientConfig | undefined;
  readonly logger: Logger;
  readonly dns: DnsLookup;
}

type ServiceConfigResult = Parameters<experimental.ResolverListener>[2];

export type ResolverClass = Parameters<typeof experimental.registerResolver>[1];

export function createResolverClass(deps: ResolverDeps): ResolverClass {
  return class SkewlessResolver implements experimental.Resolver, EdsWatcher {
    private readonly target: ParsedTarget;
    private readonly listener: experimental.ResolverListener;
    private readonly config: ClientConfig | undefined;
    private cancel: (() => void) | undefined;
    private last:
      | { endpoints: readonly AssignedEndpoint[]; zones: ZoneData | undefined; source: EndpointInfo['source'] }
      | undefined;
    private answered = false;
    private fallbackTimer: NodeJS.Timeout | undefined;
    private destroyed = false;
    private readonly zoneOverride: string | undefined;

    constructor(target: experimental.GrpcUri, listener: experimental.ResolverListener, channelOptions: ChannelOptions) {
      this.target = parseTarget(target);
      this.listener = listener;
      this.config = deps.config();
      const zone = channelOptions[ZONE_CHANNEL_OPTION];
      this.zoneOverride = typeof zone === 'string' && zone !== '' ? zone : undefined;
    }

    static getDefaultAuthority(target: experimental.GrpcUri): string {
      const parsed = parseTarget(target);
      // Throwing here makes `new Client(target)` throw: an invalid target fails loudly at once.
      if (!parsed.ok) throw new Error(parsed.error);
      return `${parsed.key.service}.${parsed.key.namespace}`;
    }

    updateResolution(): void {
      this.destroyed = false;
      if (!this.target.ok) {
        this.fail(this.target.error);
        return;
      }
      if (!this.config) {
        this.fail('skewless: register() was not called before creating a skewless:/// channel');
        return;
      }
      if (this.last) {
        const last = this.last;
        setImmediate(() => !this.destroyed && this.report(last.endpoints, last.zones, last.source));
      }
      if (this.cancel) return;
      const { config } = this;
      const ads = sharedAdsClient({
        address: this.target.controlPlane ?? config.controlPlane,
        node: { id: config.node.id, zone: config.zone, metadata: config.node.metadata },
        logger: deps.logger,
        initialBackoffMs: config.xds.initialBackoffMs,
        maxBackoffMs: config.xds.maxBackoffMs,
      });
      this.cancel = ads.watch(this.target.name, this);
      if (config.dnsFallback.enabled) {
        this.fallbackTimer = setTimeout(() => this.tryDnsFallback(), config.dnsFallback.afterMs);
        this.fallbackTimer.unref();
      }
    }

    onAssignment(assignment: EndpointAssignment): void {
      if (this.destroyed) return;
      this.answered = true;
      if (this.fallbackTimer) clearTimeout(this.fallbackTimer);
      this.report(assignment.endpoints, assignment, 'xds');
    }

    onError(message: string, kind: 'invalid-update' | 'unreachable'): void {
      if (this.destroyed) return;
      if (this.last) {
        deps.logger.warn(
          { target: this.target.ok ? this.target.name : '', kind, message },
          'keeping last good endpoints',
        );
        return;
      }
      if (kind === 'unreachable' && this.config?.dnsFallback.enabled && !this.answered) this.tryDnsFallback(message);
      else this.fail(message);
    }

    destroy(): void {
      this.destroyed = true;
      this.cancel?.();
      this.cancel = undefined;
      if (this.fallbackTimer) clearTimeout(this.fallbackTimer);
    }

    /** `cause`: the control-plane error to report if DNS has nothing either. */
    private tryDnsFallback(cause?: string): void {
      const config = this.config;
      if (!config || !this.target.ok || this.answered || this.destroyed) return;
      resolveHeadlessService(this.target.key, config.dnsFallback.domain, deps.dns).then(
        (endpoints) => {
          if (!this.answered && !this.destroyed) this.report(endpoints, undefined, 'dns-fallback');
        },
        (error: Error) => {
          deps.logger.warn({ error: error.message }, 'DNS fallback failed');
          if (cause !== undefined && !this.last) this.fail(`${cause}; ${error.message}`);
        },
      );
    }

    private fail(details: string): void {
      setImmediate(() => {
        if (this.destroyed) return;
        this.listener(experimental.statusOrFromError({ code: status.UNAVAILABLE, details }), {}, null, details);
      });
    }

    private report(
      endpoints: readonly AssignedEndpoint[],
      zones: ZoneData | undefined,
      source: EndpointInfo['source'],
    ): void {
      const config = this.config;
      if (!config || !this.target.ok) return;
      this.last = { endpoints, zones, source };
      const info: EndpointInfo = {
        endpoints: new Map(endpoints.map((e) => [e.key, e])),
        localZone: this.zoneOverride ?? config.zone ?? zones?.callerZoneHint,
        clientShares: zones?.clientShares,
        source,
      };
      const serviceConfig: ServiceConfigResult = experimental.statusOrFromValue({
        loadBalancingConfig: [
          { [LB_POLICY_NAME]: { service: this.target.name, options: config.serviceOptions(this.target.name) } },
        ],
        methodConfig: [],
      });
      this.listener(
        experimental.statusOrFromValue(endpoints.map((e) => ({ addresses: [{ host: e.host, port: e.port }] }))),
        { [ENDPOINT_INFO_OPTION]: info },
        serviceConfig,
        `skewless ${source} ${this.target.name}`,
      );
    }
  };
}
