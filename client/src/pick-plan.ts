/**
 * The immutable routing decision a picker executes: which endpoints are candidates (health,
 * ejection, connectivity, panic mode), how picks split between zones (zone-routing.ts), and one
 * strategy per group of candidates. Built on every state change; `pick()` only draws numbers.
 * Independent of grpc-js so simulations can drive it directly.
 */
import { acceptsNewCalls, type EndpointHealth } from './endpoint-health.ts';
import type { EndpointStats } from './endpoint-stats.ts';
import type { Clock, Random } from './random.ts';
import type { Strategy, StrategyFactory } from './strategy.ts';
import { computeZoneRouting, type ZoneRouting } from './zone-routing.ts';

export interface PlanEndpoint {
  readonly stats: EndpointStats;
  readonly zone: string;
  readonly health: EndpointHealth;
  /** Effective weight: endpoint weight × slow-start factor, > 0. */
  readonly weight: number;
  /** Whether a connection is READY; only ready endpoints can be picked. */
  readonly ready: boolean;
}

export interface ZoneAffinityPlanConfig {
  readonly localZone: string;
  readonly clientShares: ReadonlyMap<string, number>;
  readonly minClusterSize: number;
  readonly forceLocalMinSize?: number;
}

export interface PlanConfig {
  readonly strategy: StrategyFactory;
  /** Below this share of healthy endpoints, ignore health and spread over all (Envoy: 50). */
  readonly panicThresholdPercent: number;
  /** null disables zone affinity. */
  readonly zoneAffinity: ZoneAffinityPlanConfig | null;
  readonly random: Random;
  readonly now: Clock;
}

interface Group {
  readonly strategy: Strategy;
  /** Candidate index → index into the plan's endpoints. */
  readonly indices: Int32Array;
}

const NO_ROUTING: ZoneRouting = { mode: 'none', reason: 'zone affinity disabled' };

export class PickPlan {
  readonly panic: boolean;
  readonly routing: ZoneRouting;
  readonly candidateCount: number;
  private readonly random: Random;
  private readonly all: Group | null;
  private readonly local: Group | null;
  private readonly localPercentToRoute: number;
  private readonly residual: readonly Group[];
  private readonly residualCumulative: readonly number[];
  private readonly residualTotal: number;

  constructor(endpoints: readonly PlanEndpoint[], config: PlanConfig) {
    this.random = config.random;
    let healthy = 0;
    for (const e of endpoints) if (acceptsNewCalls(e.health) && !e.stats.ejected) healthy++;
    this.panic = endpoints.length > 0 && healthy * 100 < config.panicThresholdPercent * endpoints.length;
    const candidates: number[] = [];
    endpoints.forEach((e, i) => {
      if (e.ready && (this.panic || (acceptsNewCalls(e.health) && !e.stats.ejected))) candidates.push(i);
    });
    this.candidateCount = candidates.length;

    const group = (indices: readonly number[]): Group | null => {
      if (indices.length === 0) return null;
      return {
        indices: Int32Array.from(indices),
        strategy: config.strategy({
          stats: indices.map((i) => (endpoints[i] as PlanEndpoint).stats),
          weights: indices.map((i) => (endpoints[i] as PlanEndpoint).weight),
          random: config.random,
          now: config.now,
        }),
      };
    };

    const za = config.zoneAffinity;
    if (za && this.panic) this.routing = { mode: 'none', reason: 'panic mode' };
    else if (za) {
      const upstreamHealthy = new Map<string, number>();
      for (const i of candidates) {
        const zone = (endpoints[i] as PlanEndpoint).zone;
        upstreamHealthy.set(zone, (upstreamHealthy.get(zone) ?? 0) + 1);
      }
      this.routing = computeZoneRouting({ ...za, upstreamHealthy });
    } else this.routing = NO_ROUTING;

    const inZone = (zone: string) => candidates.filter((i) => (endpoints[i] as PlanEndpoint).zone === zone);
    const routing = this.routing;
    this.all = routing.mode === 'none' ? group(candidates) : null;
    this.local = routing.mode !== 'none' && za ? group(inZone(za.localZone)) : null;
    this.localPercentToRoute = routing.mode === 'local-residual' ? routing.localPercentToRoute : 10000;
    this.residual =
      routing.mode === 'local-residual' ? routing.residualZones.map((z) => group(inZone(z)) as Group) : [];
    this.residualCumulative = routing.mode === 'local-residual' ? routing.residualCumulative : [];
    this.residualTotal = this.residualCumulative.at(-1) ?? 0;
  }

  /** Index into the plan's endpoints, or -1 when nothing can be picked. */
  pick(): number {
    const all = this.all;
    if (all) return all.indices[all.strategy.pick()] as number;
    const local = this.local;
    if (!local) return -1;
    if (this.residualTotal === 0 || this.random() * 10000 < this.localPercentToRoute) {
      return local.indices[local.strategy.pick()] as number;
    }
    const r = this.random() * this.residualTotal;
    const cumulative = this.residualCumulative;
    let zone = 0;
    while (zone < cumulative.length - 1 && r >= (cumulative[zone] as number)) zone++;
    const group = this.residual[zone] as Group;
    return group.indices[group.strategy.pick()] as number;
  }
}
