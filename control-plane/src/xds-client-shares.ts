/**
 * The calling fleet's share per zone, per EDS resource: Envoy's zone-aware routing needs local% (the
 * share of the callers in my zone), which only the control plane sees. Streams report who
 * subscribes from which zone; this decides when a resource's shares change and when that change
 * is worth a push of its own.
 *
 * Deciding. Shares are decided from a settled fleet only: once a resource's subscriber counts have
 * not changed for `settleMs`, or, when they never stop changing, `maxSettleMs` after they first
 * changed; and at most once per `minIntervalMs`. A decision publishes only when a zone appeared or
 * disappeared or some zone's share moved by ≥ `thresholdShare` (hysteresis). A fleet connecting
 * within the settle window is therefore decided once, whole: its first subscriber's `{its zone: 1}`
 * is never published. When the last subscriber leaves, the shares are withdrawn at once (a push to
 * no one; a fleet's last word must not greet the next one).
 *
 * Pushing. Decided shares ride along with the resource's next rebuild for any reason (an endpoint
 * change carries them at no cost). Alone they are pushed
 * - soon (after 0 to `settleMs`, random, so a control-plane restart's many first publications do
 *   not go out in one burst) when they matter: the first shares, a zone appearing or
 *   disappearing, and any correction within `shareOnlyDelayMs` of the first shares (a young fleet);
 * - otherwise, for an established fleet's drift, only after `shareOnlyDelayMs` (1 to 2 times,
 *   random), one pending push at a time: at most one share-only push per resource per delay, which
 *   is what keeps a rollout of 1,000 clients from pushing every resource to everyone again and again.
 * Published shares are quantized to 0.01 so that bytes do not churn on tiny movements.
 * No I/O; time comes from the injected scheduler.
 */

/** The cache's scheduler, structurally (no import back into the cache). */
export interface ShareScheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const DEFAULT_SHARE_THRESHOLD = 0.05;
export const DEFAULT_SHARE_SETTLE_MS = 2_000;
export const DEFAULT_SHARE_MAX_SETTLE_MS = 10_000;
export const DEFAULT_SHARE_MIN_INTERVAL_MS = 5_000;
export const DEFAULT_SHARE_ONLY_DELAY_MS = 30_000;

/** Zone → share of the subscribing clients, 0..1, quantized; sorted by zone. */
export type ZoneShares = ReadonlyMap<string, number>;

export interface ClientShareTrackerOptions {
  readonly scheduler: ShareScheduler;
  /** Asks for a rebuild of `name` carrying its decided shares (never synchronously from `count`). */
  readonly onRepublish: (name: string) => void;
  readonly thresholdShare?: number;
  /** Counts unchanged this long make a settled fleet, whose shares may be decided. */
  readonly settleMs?: number;
  /** Counts that never settle are decided anyway this long after they first changed. */
  readonly maxSettleMs?: number;
  /** Least time between two decisions of one resource (withdrawal excepted). */
  readonly minIntervalMs?: number;
  /** How long a drift of an established fleet waits for a ride before it is pushed alone (0: never waits). */
  readonly shareOnlyDelayMs?: number;
  /** In [0, 1); spreads pushes (default Math.random). */
  readonly random?: () => number;
}

interface ResourceState {
  /** Zone → clients currently subscribed from it. */
  readonly counts: Map<string, number>;
  published: ZoneShares | undefined;
  /** When the current shares were decided (-Infinity before the first decision). */
  decidedAtMs: number;
  /** When the first shares were decided; undefined before. */
  firstDecidedAtMs: number | undefined;
  /** Last change of `counts`. */
  changedAtMs: number;
  /** First change of `counts` not looked at by a decision yet; undefined when settled. */
  unsettledSinceMs: number | undefined;
  /** The decision timer: fires when a decision may be due, and re-arms itself if it is not. */
  timer: unknown;
  /** Pending share-only rebuild, and when it is due. */
  pushTimer: unknown;
  pushDueAtMs: number;
}

export class ClientShareTracker {
  private readonly options: ClientShareTrackerOptions;
  private readonly thresholdShare: number;
  private readonly settleMs: number;
  private readonly maxSettleMs: number;
  private readonly minIntervalMs: number;
  private readonly shareOnlyDelayMs: number;
  private readonly random: () => number;
  private readonly resources = new Map<string, ResourceState>();

  constructor(options: ClientShareTrackerOptions) {
    this.options = options;
    this.thresholdShare = options.thresholdShare ?? DEFAULT_SHARE_THRESHOLD;
    this.settleMs = options.settleMs ?? DEFAULT_SHARE_SETTLE_MS;
    this.maxSettleMs = Math.max(this.settleMs, options.maxSettleMs ?? DEFAULT_SHARE_MAX_SETTLE_MS);
    this.minIntervalMs = options.minIntervalMs ?? DEFAULT_SHARE_MIN_INTERVAL_MS;
    this.shareOnlyDelayMs = options.shareOnlyDelayMs ?? DEFAULT_SHARE_ONLY_DELAY_MS;
    this.random = options.random ?? Math.random;
  }

  /** `delta` clients in `zone` (non-empty) started (+1) or stopped (-1) subscribing to `name`. */
  count(name: string, zone: string, delta: number): void {
    if (zone === '' || delta === 0) return;
    const { scheduler } = this.options;
    const nowMs = scheduler.now();
    let state = this.resources.get(name);
    if (!state) {
      state = {
        counts: new Map(),
        published: undefined,
        decidedAtMs: Number.NEGATIVE_INFINITY,
        firstDecidedAtMs: undefined,
        changedAtMs: nowMs,
        unsettledSinceMs: undefined,
        timer: undefined,
        pushTimer: undefined,
        pushDueAtMs: Number.POSITIVE_INFINITY,
      };
      this.resources.set(name, state);
    }
    const next = (state.counts.get(zone) ?? 0) + delta;
    if (next > 0) state.counts.set(zone, next);
    else state.counts.delete(zone);
    if (state.counts.size === 0) {
      if (state.published === undefined) {
        // Nobody left and nothing published: forget it; the next fleet starts from scratch.
        this.clearTimers(state);
        this.resources.delete(name);
        return;
      }
      if (state.timer !== undefined) scheduler.clearTimeout(state.timer);
      // The last subscriber left: withdraw the shares at once. Nobody receives that push, and the
      // shares of a fleet that is gone must not greet the next one (a zone-a client handed {zone-b: 1}
      // routes as if its own zone had no callers). Through a timer: callers must not re-enter the cache.
      const withdrawing = state;
      withdrawing.timer = scheduler.setTimeout(() => this.onTimer(name, withdrawing), 0);
      return;
    }
    state.changedAtMs = nowMs;
    state.unsettledSinceMs ??= nowMs;
    // A pending timer looks at the latest counts when it fires (and re-arms if they are not settled):
    // no timer churn while 1,000 clients connect.
    if (state.timer !== undefined) return;
    const armed = state;
    armed.timer = scheduler.setTimeout(() => this.onTimer(name, armed), Math.max(0, this.dueAtMs(armed) - nowMs));
  }

  /** The shares any build of `name` uses now (undefined: none, publish no share metadata). */
  published(name: string): ZoneShares | undefined {
    return this.resources.get(name)?.published;
  }

  close(): void {
    for (const state of this.resources.values()) this.clearTimers(state);
  }

  /** When the counts may be decided: settled (or waited long enough), and not too soon after the last decision. */
  private dueAtMs(state: ResourceState): number {
    const settledAtMs = Math.min(
      state.changedAtMs + this.settleMs,
      (state.unsettledSinceMs ?? state.changedAtMs) + this.maxSettleMs,
    );
    return Math.max(settledAtMs, state.decidedAtMs + this.minIntervalMs);
  }

  private onTimer(name: string, state: ResourceState): void {
    state.timer = undefined;
    const { scheduler } = this.options;
    if (state.counts.size > 0) {
      const waitMs = this.dueAtMs(state) - scheduler.now();
      if (waitMs > 0) {
        state.timer = scheduler.setTimeout(() => this.onTimer(name, state), waitMs);
        return;
      }
    }
    state.unsettledSinceMs = undefined;
    this.decide(name, state);
  }

  private decide(name: string, state: ResourceState): void {
    if (!sharesMoved(state.published, rawShares(state.counts), this.thresholdShare)) return;
    const nowMs = this.options.scheduler.now();
    const before = state.published;
    const shares = quantizedShares(state.counts);
    state.published = shares.size > 0 ? shares : undefined;
    state.decidedAtMs = nowMs;
    if (state.counts.size === 0) {
      // Forget resources nobody watches any more, and rebuild without shares now: no one to push to.
      this.resources.delete(name);
      this.clearTimers(state);
      this.options.onRepublish(name);
      return;
    }
    state.firstDecidedAtMs ??= nowMs;
    if (this.shareOnlyDelayMs === 0) {
      this.options.onRepublish(name);
      return;
    }
    const soon =
      before === undefined || !sameZones(before, shares) || nowMs - state.firstDecidedAtMs < this.shareOnlyDelayMs;
    this.schedulePush(name, state, soon ? this.settleMs * this.random() : this.shareOnlyDelayMs * (1 + this.random()));
  }

  /** One pending push at a time, the earliest wanted; it carries whatever is decided when it fires. */
  private schedulePush(name: string, state: ResourceState, delayMs: number): void {
    const { scheduler } = this.options;
    const dueAtMs = scheduler.now() + delayMs;
    if (state.pushTimer !== undefined) {
      if (state.pushDueAtMs <= dueAtMs) return;
      scheduler.clearTimeout(state.pushTimer);
    }
    state.pushDueAtMs = dueAtMs;
    state.pushTimer = scheduler.setTimeout(() => {
      state.pushTimer = undefined;
      state.pushDueAtMs = Number.POSITIVE_INFINITY;
      this.options.onRepublish(name);
    }, delayMs);
  }

  private clearTimers(state: ResourceState): void {
    const { scheduler } = this.options;
    if (state.timer !== undefined) scheduler.clearTimeout(state.timer);
    if (state.pushTimer !== undefined) scheduler.clearTimeout(state.pushTimer);
    state.timer = undefined;
    state.pushTimer = undefined;
    state.pushDueAtMs = Number.POSITIVE_INFINITY;
  }
}

/** Zone → share (unrounded), sorted by zone. */
export function rawShares(counts: ReadonlyMap<string, number>): Map<string, number> {
  let total = 0;
  for (const n of counts.values()) total += n;
  const zones = [...counts.keys()].sort();
  return new Map(zones.map((zone) => [zone, total > 0 ? (counts.get(zone) ?? 0) / total : 0]));
}

/** Shares rounded to 0.01 (they need not sum to exactly 1: consumers treat them as relative sizes). */
export function quantizedShares(counts: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [zone, share] of rawShares(counts)) out.set(zone, Math.round(share * 100) / 100);
  return out;
}

function sameZones(a: ZoneShares, b: ZoneShares): boolean {
  if (a.size !== b.size) return false;
  for (const zone of a.keys()) if (!b.has(zone)) return false;
  return true;
}

/** Hysteresis: a zone appeared or disappeared, or some zone's share moved by at least `threshold`. */
export function sharesMoved(published: ZoneShares | undefined, current: ZoneShares, threshold: number): boolean {
  const before = published ?? new Map<string, number>();
  if (before.size !== current.size) return true;
  for (const [zone, share] of current) {
    const old = before.get(zone);
    if (old === undefined || Math.abs(old - share) >= threshold - 1e-9) return true;
  }
  return false;
}
