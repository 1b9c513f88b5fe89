/**
 * The calling fleet's share per zone, per EDS resource: Envoy's zone-aware routing needs local% (the
 * share of the callers in my zone), which only the control plane sees. Streams report who
 * subscribes from which zone; this decides when a resource's published shares must change.
 *
 * Against a push storm while a fleet (re)connects, a resource is re-published only when
 * - a zone appears or disappears, or some zone's share moved by ≥ `thresholdShare` since the last
 *   publication (hysteresis), and
 * - at least `minIntervalMs` passed since its last publication (rate limit); a change inside the
 *   interval is re-evaluated when it ends, so the final state is always published.
 * A resource's first shares are decided 1 to 2 intervals (random) after its first subscriber; when
 * its last subscriber leaves, its shares are withdrawn at once (a push to no one).
 * Published shares are quantized to 0.01 so that bytes do not churn on tiny movements.
 *
 * Decided shares are not urgent (they nudge spill ratios; clients assume equal shares until they
 * have some), endpoint changes are. So decided shares ride along with the resource's next rebuild
 * for any reason, and a push of shares alone waits `shareOnlyDelayMs` (1 to 2 times, random): when
 * a fleet connects, or during a rollout, share updates then cost no pushes of their own.
 * No I/O; time comes from the injected scheduler.
 */

/** The cache's scheduler, structurally (no import back into the cache). */
export interface ShareScheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const DEFAULT_SHARE_THRESHOLD = 0.05;
export const DEFAULT_SHARE_MIN_INTERVAL_MS = 5_000;
export const DEFAULT_SHARE_ONLY_DELAY_MS = 30_000;

/** Zone → share of the subscribing clients, 0..1, quantized; sorted by zone. */
export type ZoneShares = ReadonlyMap<string, number>;

export interface ClientShareTrackerOptions {
  readonly scheduler: ShareScheduler;
  /** Asks for a rebuild of `name` carrying its decided shares (never synchronously from `count`). */
  readonly onRepublish: (name: string) => void;
  readonly thresholdShare?: number;
  readonly minIntervalMs?: number;
  /** How long decided shares wait for a ride before they are pushed alone (0: at once). */
  readonly shareOnlyDelayMs?: number;
  /** In [0, 1); spreads first publications (default Math.random). */
  readonly random?: () => number;
}

interface ResourceState {
  /** Zone → clients currently subscribed from it. */
  readonly counts: Map<string, number>;
  published: ZoneShares | undefined;
  lastPublishedAtMs: number;
  timer: unknown;
  /** Pending share-only rebuild, if decided shares are still waiting for a ride. */
  pushTimer: unknown;
}

export class ClientShareTracker {
  private readonly options: ClientShareTrackerOptions;
  private readonly thresholdShare: number;
  private readonly minIntervalMs: number;
  private readonly shareOnlyDelayMs: number;
  private readonly random: () => number;
  private readonly resources = new Map<string, ResourceState>();

  constructor(options: ClientShareTrackerOptions) {
    this.options = options;
    this.thresholdShare = options.thresholdShare ?? DEFAULT_SHARE_THRESHOLD;
    this.minIntervalMs = options.minIntervalMs ?? DEFAULT_SHARE_MIN_INTERVAL_MS;
    this.shareOnlyDelayMs = options.shareOnlyDelayMs ?? DEFAULT_SHARE_ONLY_DELAY_MS;
    this.random = options.random ?? Math.random;
  }

  /** `delta` clients in `zone` (non-empty) started (+1) or stopped (-1) subscribing to `name`. */
  count(name: string, zone: string, delta: number): void {
    if (zone === '' || delta === 0) return;
    let state = this.resources.get(name);
    if (!state) {
      state = {
        counts: new Map(),
        published: undefined,
        // The first publication waits one interval plus a random part of another: the first
        // subscriber's shares ({its zone: 1}) are almost surely wrong while a fleet connects, and
        // after a control-plane restart every resource gets its first subscriber at once;
        // publishing them all together is a push of everything to everyone (seen in bench/fanout.ts).
        lastPublishedAtMs: this.options.scheduler.now() + this.minIntervalMs * this.random(),
        timer: undefined,
        pushTimer: undefined,
      };
      this.resources.set(name, state);
    }
    const next = (state.counts.get(zone) ?? 0) + delta;
    if (next > 0) state.counts.set(zone, next);
    else state.counts.delete(zone);
    const { scheduler } = this.options;
    if (state.counts.size === 0 && state.published !== undefined) {
      // The last subscriber left: withdraw the shares at once. Nobody receives that push, and the
      // shares of a fleet that is gone must not greet the next one (a zone-a client handed {zone-b: 1}
      // routes as if its own zone had no callers).
      if (state.timer !== undefined) scheduler.clearTimeout(state.timer);
      state.timer = scheduler.setTimeout(() => this.evaluate(name, state), 0);
      return;
    }
    // A pending timer re-evaluates at the end of the interval; nothing to decide before then.
    if (state.timer !== undefined) return;
    if (state.counts.size === 0 && state.published === undefined) {
      this.resources.delete(name);
      return;
    }
    const waitMs = Math.max(0, state.lastPublishedAtMs + this.minIntervalMs - scheduler.now());
    // Even "now" goes through a timer: callers (stream request handlers) must not re-enter the cache.
    if (this.moved(state)) state.timer = scheduler.setTimeout(() => this.evaluate(name, state), waitMs);
  }

  /** The shares any build of `name` uses now (undefined: none, publish no share metadata). */
  published(name: string): ZoneShares | undefined {
    return this.resources.get(name)?.published;
  }

  close(): void {
    for (const state of this.resources.values()) {
      if (state.timer !== undefined) this.options.scheduler.clearTimeout(state.timer);
      if (state.pushTimer !== undefined) this.options.scheduler.clearTimeout(state.pushTimer);
      state.timer = undefined;
      state.pushTimer = undefined;
    }
  }

  private evaluate(name: string, state: ResourceState): void {
    state.timer = undefined;
    if (!this.moved(state)) return;
    const shares = quantizedShares(state.counts);
    state.published = shares.size > 0 ? shares : undefined;
    state.lastPublishedAtMs = this.options.scheduler.now();
    if (state.counts.size === 0) {
      // Forget resources nobody watches any more, and rebuild without shares now: no one to push to.
      this.resources.delete(name);
      if (state.pushTimer !== undefined) this.options.scheduler.clearTimeout(state.pushTimer);
      state.pushTimer = undefined;
      this.options.onRepublish(name);
      return;
    }
    if (this.shareOnlyDelayMs === 0) {
      this.options.onRepublish(name);
      return;
    }
    // One pending push at a time: it always carries the latest decided shares.
    state.pushTimer ??= this.options.scheduler.setTimeout(
      () => {
        state.pushTimer = undefined;
        this.options.onRepublish(name);
      },
      this.shareOnlyDelayMs * (1 + this.random()),
    );
  }

  private moved(state: ResourceState): boolean {
    return sharesMoved(state.published, rawShares(state.counts), this.thresholdShare);
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
