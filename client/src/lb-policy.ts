/**
 * The `skewless` LB policy for grpc-js: owns one LeafLoadBalancer (one subchannel, eager connect)
 * per endpoint, the per-endpoint counters, outlier detection and slow-start timing, and publishes
 * a new immutable SkewlessPicker whenever any of that changes.
 *
 * Contracts: adding endpoints never touches existing leaves, so running calls are undisturbed;
 * a removed endpoint leaves the picker at once but its leaf (and connection) is destroyed only
 * when its in-flight calls reach 0; DRAINING endpoints stay connected but get no new calls.
 */
import { type ChannelOptions, connectivityState as ConnectivityState, experimental } from '@grpc/grpc-js';
import { type BalancerSnapshot, liveBalancers } from './balancer-registry.ts';
import type { ServiceOptions } from './config-service.ts';
import type { AssignedEndpoint } from './eds-assignment.ts';
import { acceptsNewCalls } from './endpoint-health.ts';
import { ENDPOINT_INFO_OPTION, type EndpointInfo } from './endpoint-info.ts';
import { EndpointStats } from './endpoint-stats.ts';
import { LB_POLICY_NAME, SkewlessLbConfig } from './lb-config.ts';
import { OutlierDetector } from './outlier-detector.ts';
import { PickPlan, type PlanEndpoint, type ZoneAffinityPlanConfig } from './pick-plan.ts';
import { type PickTarget, SkewlessPicker } from './picker.ts';
import { type Clock, type Random, systemClock, systemRandom } from './random.ts';
import { slowStartFactor } from './slow-start.ts';
import { strategyFactory } from './strategy-catalog.ts';
import { type ClientSharesChoice, chooseClientShares } from './zone-routing.ts';

interface Entry {
  readonly key: string;
  endpoint: experimental.Endpoint;
  readonly leaf: experimental.LeafLoadBalancer;
  readonly stats: EndpointStats;
  info: AssignedEndpoint | undefined;
  /** When the endpoint joined; -Infinity for the first assignment (no slow start at startup). */
  readonly addedAtMs: number;
  /** Out of the assignment; destroyed when its in-flight calls end. */
  removing: boolean;
  /** Its leaf has been given the address (grpc-js `startConnecting`); until then it is idle. */
  connectStarted: boolean;
}

function keyOf(endpoint: experimental.Endpoint): string {
  return experimental.subchannelAddressToString(endpoint.addresses[0] as experimental.SubchannelAddress);
}

export class SkewlessLoadBalancer implements experimental.LoadBalancer {
  private readonly helper: experimental.ChannelControlHelper;
  private readonly childHelper: experimental.ChannelControlHelper;
  private readonly entries = new Map<string, Entry>();
  private readonly now: Clock = systemClock;
  private readonly random: Random = systemRandom;
  private config: SkewlessLbConfig | undefined;
  private info: EndpointInfo | undefined;
  private outlier: OutlierDetector | undefined;
  private outlierTimer: NodeJS.Timeout | undefined;
  private slowStartTimer: NodeJS.Timeout | undefined;
  private readonly pendingResetTimer: NodeJS.Timeout;
  private rebuildQueued = false;
  private initialized = false;
  private destroyed = false;
  private state = ConnectivityState.IDLE;
  private plan: PickPlan | undefined;
  private pickersPublished = 0;
  private clientShares: ClientSharesChoice = { source: 'equal', shares: new Map() };

  constructor(helper: experimental.ChannelControlHelper) {
    this.helper = helper;
    this.childHelper = experimental.createChildChannelControlHelper(helper, {
      updateState: () => this.scheduleRebuild(),
    });
    liveBalancers.add(this);
    // Bounds the leak of picks that never start (EndpointStats.pending) to one second.
    this.pendingResetTimer = setInterval(() => {
      for (const e of this.entries.values()) e.stats.pending = 0;
    }, 1_000);
    this.pendingResetTimer.unref();
  }

  updateAddressList(
    endpointList: experimental.StatusOr<experimental.Endpoint[]>,
    lbConfig: experimental.TypedLoadBalancingConfig,
    options: ChannelOptions,
    resolutionNote: string,
  ): boolean {
    if (!(lbConfig instanceof SkewlessLbConfig)) return false;
    if (!endpointList.ok) {
      // Static stability: an error after a good list changes nothing.
      if (this.entries.size === 0) {
        this.publish(
          ConnectivityState.TRANSIENT_FAILURE,
          new experimental.UnavailablePicker(endpointList.error),
          endpointList.error.details,
        );
      }
      return true;
    }
    this.applyConfig(lbConfig);
    this.info = options[ENDPOINT_INFO_OPTION] as EndpointInfo | undefined;
    const nowMs = this.now();
    const seen = new Set<string>();
    for (const endpoint of endpointList.value) {
      const key = keyOf(endpoint);
      seen.add(key);
      const existing = this.entries.get(key);
      const info = this.info?.endpoints.get(key);
      if (existing) {
        existing.info = info;
        existing.removing = false;
        continue;
      }
      const leaf = new experimental.LeafLoadBalancer(endpoint, this.childHelper, options, resolutionNote);
      this.entries.set(key, {
        key,
        endpoint,
        leaf,
        stats: new EndpointStats(key, nowMs),
        info,
        addedAtMs: this.initialized ? nowMs : Number.NEGATIVE_INFINITY,
        removing: false,
        connectStarted: false,
      });
    }
    for (const entry of this.entries.values()) {
      if (!seen.has(entry.key)) {
        entry.removing = true;
        this.maybeRelease(entry);
      }
    }
    this.initialized = true;
    this.rebuild();
    return true;
  }

  private applyConfig(config: SkewlessLbConfig): void {
    const previous = this.config;
    this.config = config;
    const od = config.options.outlierDetection;
    if (previous && JSON.stringify(previous.options.outlierDetection) === JSON.stringify(od)) return;
    if (this.outlierTimer) clearInterval(this.outlierTimer);
    this.outlierTimer = undefined;
    this.outlier = od.enabled ? new OutlierDetector(od) : undefined;
    if (this.outlier) {
      this.outlierTimer = setInterval(() => {
        if (this.outlier?.sweep(this.now())) this.scheduleRebuild();
      }, od.intervalMs);
      this.outlierTimer.unref();
    }
  }

  private maybeRelease(entry: Entry): void {
    // Only started calls hold the connection: a picked call that has not started re-picks if it closes.
    if (entry.removing && entry.stats.inFlight <= 0 && this.entries.get(entry.key) === entry) {
      this.entries.delete(entry.key);
      entry.leaf.destroy();
    }
  }

  private readonly onCallEnded = (stats: EndpointStats): void => {
    const entry = this.entries.get(stats.key);
    if (!entry || entry.stats !== stats) return;
    if (entry.removing) {
      this.maybeRelease(entry);
      return;
    }
    if (this.outlier?.onCallEnded(stats, this.now())) this.scheduleRebuild();
  };

  private scheduleRebuild(): void {
    if (this.rebuildQueued || this.destroyed) return;
    this.rebuildQueued = true;
    queueMicrotask(() => {
      this.rebuildQueued = false;
      if (!this.destroyed) this.rebuild();
    });
  }

  private rebuild(): void {
    const config = this.config;
    if (!config || this.destroyed) return;
    const options = config.options;
    const nowMs = this.now();
    const live = [...this.entries.values()].filter((e) => !e.removing);
    this.outlier?.setEndpoints(live.map((e) => e.stats));
    let nextSlowStartMs = Number.POSITIVE_INFINITY;
    const planEndpoints: PlanEndpoint[] = live.map((e) => {
      const age = nowMs - e.addedAtMs;
      const factor = slowStartFactor(age, options.slowStart);
      if (factor < 1) nextSlowStartMs = Math.min(nextSlowStartMs, Math.max(100, options.slowStart.windowMs / 20));
      return {
        stats: e.stats,
        zone: e.info?.zone ?? '',
        health: e.info?.health ?? 'UNKNOWN',
        weight: (e.info?.weight ?? 1) * factor,
        ready: e.leaf.getConnectivityState() === ConnectivityState.READY,
      };
    });
    const plan = new PickPlan(planEndpoints, {
      strategy: strategyFactory(options.strategy, { p2cSampling: options.p2cSampling }),
      panicThresholdPercent: options.panicThresholdPercent,
      zoneAffinity: this.zoneAffinity(options),
      random: this.random,
      now: this.now,
    });
    this.plan = plan;
    if (plan.candidateCount > 0) {
      const targets: PickTarget[] = live.map((e) => ({ picker: e.leaf.getPicker(), stats: e.stats }));
      this.publish(
        ConnectivityState.READY,
        new SkewlessPicker(plan, targets, this.now, this.onCallEnded, options.strategy === 'p2c-server-load'),
        null,
      );
    } else if (
      live.some((e) => [ConnectivityState.CONNECTING, ConnectivityState.IDLE].includes(e.leaf.getConnectivityState()))
    ) {
      this.publish(ConnectivityState.CONNECTING, new experimental.QueuePicker(this), null);
    } else {
      const details =
        live.length === 0 ? `no endpoints for ${config.service}` : `no reachable endpoint for ${config.service}`;
      this.publish(ConnectivityState.TRANSIENT_FAILURE, new experimental.UnavailablePicker({ details }), details);
    }
    this.connectWherePickable(plan.panic);
    if (this.slowStartTimer) clearTimeout(this.slowStartTimer);
    this.slowStartTimer = undefined;
    if (Number.isFinite(nextSlowStartMs)) {
      this.slowStartTimer = setTimeout(() => this.scheduleRebuild(), nextSlowStartMs);
      this.slowStartTimer.unref();
    }
  }

  /**
   * Eager connections to every endpoint that can be picked, including idle ones after a disconnect.
   * A draining or removed endpoint is left idle: its server is shutting down, so reconnecting would
   * only knock on a closed port and, once the pod is gone, leave SYNs unanswered until they time out.
   * In panic every endpoint can be picked, draining ones included.
   */
  private connectWherePickable(panic: boolean): void {
    for (const e of this.entries.values()) {
      if (e.removing || !(panic || acceptsNewCalls(e.info?.health ?? 'UNKNOWN'))) continue;
      if (!e.connectStarted) {
        e.connectStarted = true;
        e.leaf.startConnecting();
      } else if (e.leaf.getConnectivityState() === ConnectivityState.IDLE) e.leaf.exitIdle();
    }
  }

  private zoneAffinity(options: ServiceOptions): ZoneAffinityPlanConfig | null {
    const za = options.zoneAffinity;
    const localZone = this.info?.localZone;
    this.clientShares = chooseClientShares({
      published: this.info?.clientShares,
      configured: za.clientShares,
      localZone,
      endpointZones: [...this.entries.values()].filter((e) => !e.removing).map((e) => e.info?.zone ?? ''),
    });
    if (!za.enabled || localZone === undefined) return null;
    return {
      localZone,
      clientShares: this.clientShares.shares,
      minClusterSize: za.minClusterSize,
      ...(za.forceLocalMinSize !== undefined ? { forceLocalMinSize: za.forceLocalMinSize } : {}),
    };
  }

  private publish(state: ConnectivityState, picker: experimental.Picker, error: string | null): void {
    this.state = state;
    this.pickersPublished += 1;
    this.helper.updateState(state, picker, error);
  }

  exitIdle(): void {
    this.connectWherePickable(this.plan?.panic ?? false);
  }

  resetBackoff(): void {}

  destroy(): void {
    this.destroyed = true;
    liveBalancers.delete(this);
    if (this.outlierTimer) clearInterval(this.outlierTimer);
    if (this.slowStartTimer) clearTimeout(this.slowStartTimer);
    clearInterval(this.pendingResetTimer);
    for (const e of this.entries.values()) e.leaf.destroy();
    this.entries.clear();
  }

  getTypeName(): string {
    return LB_POLICY_NAME;
  }

  snapshot(): BalancerSnapshot {
    const options = this.config?.options;
    const nowMs = this.now();
    return {
      service: this.config?.service ?? '',
      strategy: options?.strategy ?? '',
      localZone: this.info?.localZone,
      source: this.info?.source ?? 'unknown',
      state: ConnectivityState[this.state],
      pickersPublished: this.pickersPublished,
      panic: this.plan?.panic ?? false,
      zoneRouting: this.plan?.routing ?? { mode: 'none', reason: 'no plan yet' },
      clientShares: { source: this.clientShares.source, shares: Object.fromEntries(this.clientShares.shares) },
      endpoints: [...this.entries.values()].map((e) => ({
        address: e.key,
        zone: e.info?.zone ?? '',
        health: e.info?.health ?? 'UNKNOWN',
        connectivity: ConnectivityState[e.leaf.getConnectivityState()],
        removing: e.removing,
        weight: e.info?.weight ?? 1,
        effectiveWeight:
          (e.info?.weight ?? 1) * (options ? slowStartFactor(nowMs - e.addedAtMs, options.slowStart) : 1),
        picks: e.stats.picks,
        inFlight: e.stats.inFlight,
        successes: e.stats.successes,
        failures: e.stats.failures,
        ewmaMs: e.stats.ewma.estimateMs(nowMs),
        ejected: e.stats.ejected,
        ejections: e.stats.ejectionsTotal,
      })),
    };
  }
}
