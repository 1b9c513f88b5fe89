/**
 * Envoy's zone-aware routing (LoadBalancerBase::regenerateLocalityRoutingStructures), with its
 * integer arithmetic in units of 1/10000:
 *
 * - local%    = share of the *calling* fleet in each zone;
 * - upstream% = share of healthy upstream endpoints in each zone.
 *
 * If upstream%[mine] ≥ local%[mine] everything stays local. Otherwise route
 * upstream%[mine] / local%[mine] of the traffic locally and spread the rest over the other zones
 * in proportion to their residual capacity (upstream% − local% where positive).
 * Preconditions, as in Envoy: ≥ 2 zones upstream, the local zone has healthy upstream endpoints,
 * and ≥ minClusterSize healthy endpoints in total. Then `forceLocalMinSize` (Envoy's
 * force_local_zone.min_size, off unless set) keeps everything local while the local zone has at
 * least that many healthy endpoints.
 */

export interface ZoneRoutingInput {
  readonly localZone: string;
  /** Relative size of the calling fleet per zone (any non-negative numbers). */
  readonly clientShares: ReadonlyMap<string, number>;
  /** Healthy upstream endpoints per zone. */
  readonly upstreamHealthy: ReadonlyMap<string, number>;
  readonly minClusterSize: number;
  readonly forceLocalMinSize?: number;
}

export type ZoneRouting =
  | { readonly mode: 'none'; readonly reason: string }
  | { readonly mode: 'local-direct'; readonly reason: string }
  | {
      readonly mode: 'local-residual';
      /** Share of picks kept local, in 1/10000. */
      readonly localPercentToRoute: number;
      /** Zones with spare capacity and their cumulative residual capacity (for sampling). */
      readonly residualZones: readonly string[];
      readonly residualCumulative: readonly number[];
    };

function percentages(counts: ReadonlyMap<string, number>): Map<string, number> {
  let total = 0;
  for (const n of counts.values()) total += n;
  const out = new Map<string, number>();
  for (const [zone, n] of counts) out.set(zone, total > 0 ? Math.floor((10000 * n) / total) : 0);
  return out;
}

export function computeZoneRouting(input: ZoneRoutingInput): ZoneRouting {
  const upstreamZones = [...input.upstreamHealthy].filter(([, n]) => n > 0);
  if (upstreamZones.length < 2) return { mode: 'none', reason: 'fewer than 2 zones have healthy endpoints' };
  const localHosts = input.upstreamHealthy.get(input.localZone) ?? 0;
  if (localHosts === 0) return { mode: 'none', reason: `no healthy endpoint in local zone "${input.localZone}"` };
  const clientZones = [...input.clientShares].filter(([, n]) => n > 0);
  if (clientZones.length < 2) return { mode: 'none', reason: 'the calling fleet spans fewer than 2 zones' };
  let totalHealthy = 0;
  for (const [, n] of upstreamZones) totalHealthy += n;
  if (totalHealthy < input.minClusterSize) {
    return { mode: 'none', reason: `${totalHealthy} healthy endpoints < min cluster size ${input.minClusterSize}` };
  }
  // Checked after the preconditions, as Envoy does (earlyExitNonLocalityRouting comes first).
  if (input.forceLocalMinSize !== undefined && localHosts >= input.forceLocalMinSize) {
    return { mode: 'local-direct', reason: `force-local: ${localHosts} ≥ ${input.forceLocalMinSize} local endpoints` };
  }
  const local = percentages(input.clientShares);
  const upstream = percentages(input.upstreamHealthy);
  const localMine = local.get(input.localZone) ?? 0;
  const upstreamMine = upstream.get(input.localZone) ?? 0;
  if (upstreamMine >= localMine)
    return { mode: 'local-direct', reason: `upstream ${upstreamMine} ≥ local ${localMine}` };

  const residualZones: string[] = [];
  const residualCumulative: number[] = [];
  let cumulative = 0;
  for (const [zone, up] of [...upstream].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (zone === input.localZone) continue;
    const spare = up - (local.get(zone) ?? 0);
    if (spare > 0) {
      cumulative += spare;
      residualZones.push(zone);
      residualCumulative.push(cumulative);
    }
  }
  return {
    mode: 'local-residual',
    localPercentToRoute: Math.floor((upstreamMine * 10000) / localMine),
    residualZones,
    residualCumulative,
  };
}

/** The expected share of my picks per zone, in 0..1, for tests and the debug snapshot. */
export function expectedZoneShares(routing: ZoneRouting, localZone: string): Map<string, number> {
  const out = new Map<string, number>();
  if (routing.mode === 'local-direct') out.set(localZone, 1);
  if (routing.mode !== 'local-residual') return out;
  const local = routing.localPercentToRoute / 10000;
  out.set(localZone, local);
  const total = routing.residualCumulative.at(-1) ?? 0;
  let previous = 0;
  routing.residualZones.forEach((zone, i) => {
    const cumulative = routing.residualCumulative[i] as number;
    out.set(zone, total > 0 ? ((1 - local) * (cumulative - previous)) / total : 0);
    previous = cumulative;
  });
  return out;
}

export type ClientShareSource = 'control-plane' | 'config' | 'equal';

export interface ClientSharesChoice {
  readonly source: ClientShareSource;
  readonly shares: ReadonlyMap<string, number>;
}

/**
 * Envoy's local%: the control plane's count of the clients subscribed to this service, when it
 * published one that includes the caller's own zone; else the configured shares; else callers
 * assumed spread evenly over the zones the service spans.
 *
 * Published shares without the caller's zone are stale by construction (this caller is one of the
 * fleet): the control plane rate-limits share updates, so a client joining from a new zone first
 * receives shares decided before it subscribed — e.g. {zone-b: 1} seen by a zone-a client, which
 * would switch zone routing off. Such shares are skipped until the control plane catches up.
 */
export function chooseClientShares(input: {
  readonly published: ReadonlyMap<string, number> | undefined;
  readonly configured: Readonly<Record<string, number>> | undefined;
  readonly localZone: string | undefined;
  /** Zones of the service's current endpoints. */
  readonly endpointZones: Iterable<string>;
}): ClientSharesChoice {
  const { published, configured, localZone } = input;
  const includesCaller = localZone === undefined || (published?.get(localZone) ?? 0) > 0;
  if (published && published.size > 0 && includesCaller) return { source: 'control-plane', shares: new Map(published) };
  if (configured) return { source: 'config', shares: new Map(Object.entries(configured)) };
  return { source: 'equal', shares: new Map([...input.endpointZones].map((zone) => [zone, 1])) };
}
