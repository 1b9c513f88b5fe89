/**
 * The versioned xDS cache between discovery and the ADS streams.
 *
 * Discovery pushes complete endpoint views into it (`EndpointSink`); it batches them, translates
 * them, encodes every resource once, drops no-op updates by comparing bytes, and versions what
 * changed. The stream code reads encoded resources and watches for changes; it never sees
 * Kubernetes, and this file never sees a gRPC stream (go-control-plane's pkg/cache vs pkg/server).
 */
import { randomBytes } from 'node:crypto';
import {
  type Any,
  encodeMessage,
  type Logger,
  packAny,
  TYPE_SHORT_NAME,
  TYPE_URL,
  type TypeUrl,
} from '@skewless/shared';
import type { XdsMetrics } from './metrics.ts';
import type { EndpointSink, ServicePortEndpoints } from './model.ts';
import { toClusterLoadAssignment, validateClusterLoadAssignment } from './translate-cla.ts';
import type { IngressConfig } from './translate-ingress.ts';
import { buildDesiredState, type DesiredResource, sameServiceInput } from './xds-cache-build.ts';
import { ClientShareTracker, type ClientShareTrackerOptions, type ZoneShares } from './xds-client-shares.ts';

/** One resource as served: encoded once per version and shared by every stream. */
export interface CachedResource {
  readonly name: string;
  /** Opaque, `<instance prefix>-<counter>`; changes iff the resource's bytes changed. */
  readonly version: string;
  readonly any: Any;
}

export interface CacheChange {
  /** The cache version this change produced. */
  readonly version: string;
  /** Per type: the names added, changed or removed. */
  readonly changed: ReadonlyMap<TypeUrl, ReadonlySet<string>>;
  /** When the oldest input folded into this change was accepted, on the cache's clock. */
  readonly acceptedAtMs: number;
}

/** What a client is owed beyond the shared view. */
export interface ClientVariant {
  /** Serve this zone at priority 0 and the others at priority 1 (per-client zone affinity). */
  readonly callerZone?: string;
}

/** Where streams report which clients (by zone) subscribe to which EDS resource. */
export interface SubscriberTally {
  /**
   * `delta` clients in `zone` started (+1) or stopped (-1) subscribing to the EDS resource `name`.
   * Cheap; any re-publication it causes happens later (never synchronously).
   */
  countSubscribers(name: string, zone: string, delta: number): void;
}

/** The read side the ADS streams use. */
export interface XdsCacheView extends SubscriberTally {
  /** False until the first endpoint view is published: nothing is served before discovery synced. */
  ready(): boolean;
  /** Version of the last change to any resource of `typeUrl` ('' before ready). */
  typeVersion(typeUrl: TypeUrl): string;
  get(typeUrl: TypeUrl, name: string, variant?: ClientVariant): CachedResource | undefined;
  /** Names a wildcard subscriber of `typeUrl` gets, sorted. */
  wildcardNames(typeUrl: TypeUrl): readonly string[];
  /** `onChange` is never called synchronously from `watch`; returns the unsubscribe function. */
  watch(onChange: (change: CacheChange) => void): () => void;
}

export interface CacheScheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: CacheScheduler = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface XdsCacheOptions {
  readonly logger: Logger;
  /** Inputs within this window become one version (default 20 ms). */
  readonly batchWindowMs?: number;
  readonly ingress?: IngressConfig;
  readonly metrics?: XdsMetrics;
  /** Makes versions unique per instance; default: start time and random bytes. */
  readonly versionPrefix?: string;
  readonly scheduler?: CacheScheduler;
  /** Suffix of the DNS-style Listener aliases for proxyless gRPC (default `cluster.local`). */
  readonly clusterDomain?: string;
  /**
   * Fleet shares (xds-client-shares.ts): hysteresis 0.05, settle 2 s (at most 10 s), one decision per
   * 5 s, drift pushed alone after 30–60 s; first shares and zone changes go out within the settle time.
   */
  readonly clientShares?: Omit<ClientShareTrackerOptions, 'scheduler' | 'onRepublish'>;
}

interface Entry extends CachedResource {
  readonly bytes: Buffer;
  readonly wildcard: boolean;
  readonly service?: ServicePortEndpoints;
  readonly clientShares?: ZoneShares;
  /** Per-zone CLA variants of this version, encoded on first use. */
  readonly variants: Map<string, CachedResource>;
}

export const DEFAULT_BATCH_WINDOW_MS = 20;

export class XdsCache implements EndpointSink, XdsCacheView {
  private readonly logger: Logger;
  private readonly batchWindowMs: number;
  private readonly ingress: IngressConfig | undefined;
  private readonly clusterDomain: string | undefined;
  private readonly metrics: XdsMetrics | undefined;
  private readonly prefix: string;
  private readonly scheduler: CacheScheduler;

  private readonly entries = new Map<TypeUrl, Map<string, Entry>>(Object.values(TYPE_URL).map((t) => [t, new Map()]));
  private readonly typeVersions = new Map<TypeUrl, string>();
  private readonly wildcard = new Map<TypeUrl, readonly string[]>();
  private readonly watchers = new Set<(change: CacheChange) => void>();
  private readonly testOverrides = new Map<TypeUrl, Map<string, object>>();
  private counter = 0;
  private services: readonly ServicePortEndpoints[] | undefined;
  /** The inputs of the last build, by name: an equal input is not translated again. */
  private built = new Map<string, ServicePortEndpoints>();
  private pending: { services: readonly ServicePortEndpoints[] | undefined; acceptedAtMs: number } | undefined;
  private timer: unknown;
  private closed = false;
  private readonly shares: ClientShareTracker;

  constructor(opts: XdsCacheOptions) {
    this.logger = opts.logger;
    this.batchWindowMs = opts.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS;
    this.ingress = opts.ingress;
    this.clusterDomain = opts.clusterDomain;
    this.metrics = opts.metrics;
    this.prefix = opts.versionPrefix ?? `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    this.scheduler = opts.scheduler ?? realScheduler;
    this.shares = new ClientShareTracker({
      scheduler: this.scheduler,
      ...opts.clientShares,
      onRepublish: (name) => {
        // Translate this one again in the next build, with its new shares; batched like any input.
        this.built.delete(name);
        this.schedule(undefined);
      },
    });
  }

  countSubscribers(name: string, zone: string, delta: number): void {
    if (!this.closed) this.shares.count(name, zone, delta);
  }

  /** The fleet shares currently published for EDS resource `name` (tests, debugging). */
  publishedShares(name: string): ZoneShares | undefined {
    return this.shares.published(name);
  }

  /** EndpointSink: accepted now, published within `batchWindowMs` (the last view in a window wins). */
  replaceAll(services: readonly ServicePortEndpoints[]): void {
    this.schedule(services);
  }

  /**
   * Test-only: replaces (or with `undefined` removes) one resource with an arbitrary message, to
   * make a real client NACK something. Survives later endpoint views until removed.
   */
  setTestOverride(typeUrl: TypeUrl, name: string, message: object | undefined): void {
    const overrides = this.testOverrides.get(typeUrl) ?? new Map<string, object>();
    if (message) overrides.set(name, message);
    else overrides.delete(name);
    this.testOverrides.set(typeUrl, overrides);
    // What an override replaced must be rebuilt when it goes: next build translates everything.
    this.built.clear();
    this.schedule(undefined);
  }

  ready(): boolean {
    return this.counter > 0;
  }

  typeVersion(typeUrl: TypeUrl): string {
    return this.typeVersions.get(typeUrl) ?? '';
  }

  wildcardNames(typeUrl: TypeUrl): readonly string[] {
    return this.wildcard.get(typeUrl) ?? [];
  }

  get(typeUrl: TypeUrl, name: string, variant: ClientVariant = {}): CachedResource | undefined {
    const entry = this.entries.get(typeUrl)?.get(name);
    if (!entry || variant.callerZone === undefined || !entry.service) return entry;
    return this.zoneVariant(entry, entry.service, variant.callerZone);
  }

  watch(onChange: (change: CacheChange) => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
    this.shares.close();
    this.watchers.clear();
  }

  private schedule(services: readonly ServicePortEndpoints[] | undefined): void {
    if (this.closed) return;
    const acceptedAtMs = this.pending?.acceptedAtMs ?? this.scheduler.now();
    this.pending = { services: services ?? this.pending?.services, acceptedAtMs };
    // The window starts at the first input and is never extended, so a steady trickle of
    // changes cannot postpone a push forever.
    this.timer ??= this.scheduler.setTimeout(() => this.flush(), this.batchWindowMs);
  }

  private flush(): void {
    this.timer = undefined;
    const pending = this.pending;
    this.pending = undefined;
    if (!pending || this.closed) return;
    if (pending.services) this.services = pending.services;
    // Overrides alone do not make the cache ready: nothing is served before discovery synced.
    if (!this.services) return;

    const previous = this.built;
    const desired = buildDesiredState(
      this.services,
      this.ingress,
      (s) => sameServiceInput(previous.get(s.name), s),
      this.clusterDomain,
      (name) => this.shares.published(name),
    );
    this.built = new Map(this.services.map((s) => [s.name, s]));
    const version = `${this.prefix}-${this.counter + 1}`;
    const changed = new Map<TypeUrl, Set<string>>();
    for (const typeUrl of Object.values(TYPE_URL)) {
      const names = this.apply(typeUrl, this.withOverrides(typeUrl, desired.get(typeUrl)), version);
      if (names.size > 0) changed.set(typeUrl, names);
    }
    this.metrics?.setEndpoints(this.services);
    // The first publication always counts as a change: it is what makes the cache ready.
    if (changed.size === 0 && this.counter > 0) return;
    this.counter += 1;
    for (const typeUrl of changed.keys()) this.typeVersions.set(typeUrl, version);
    if (this.counter === 1) for (const typeUrl of Object.values(TYPE_URL)) this.typeVersions.set(typeUrl, version);
    this.logger.debug(
      { version, changed: Object.fromEntries([...changed].map(([t, n]) => [TYPE_SHORT_NAME[t], n.size])) },
      'xds cache: new version',
    );
    const change: CacheChange = { version, changed, acceptedAtMs: pending.acceptedAtMs };
    for (const watcher of [...this.watchers]) {
      try {
        watcher(change);
      } catch (error) {
        this.logger.error({ err: error }, 'xds cache: a watcher threw; other watchers still notified');
      }
    }
  }

  private withOverrides(typeUrl: TypeUrl, desired: ReadonlyMap<string, DesiredResource> | undefined) {
    const overrides = this.testOverrides.get(typeUrl);
    if (!overrides?.size) return desired ?? new Map<string, DesiredResource>();
    const merged = new Map(desired);
    for (const [name, message] of overrides)
      merged.set(name, { message, wildcard: merged.get(name)?.wildcard ?? true });
    return merged;
  }

  /** Encodes every desired resource of one type, keeps the unchanged ones; returns changed names. */
  private apply(typeUrl: TypeUrl, desired: ReadonlyMap<string, DesiredResource>, version: string): Set<string> {
    const current = this.entries.get(typeUrl) ?? new Map<string, Entry>();
    const next = new Map<string, Entry>();
    const changed = new Set<string>();
    for (const [name, resource] of desired) {
      const previous = current.get(name);
      if (resource.message === undefined) {
        // Same input as the last build: whatever was published for it (if anything) stands.
        if (previous) next.set(name, previous);
        continue;
      }
      if (resource.service && !this.isValidAssignment(name, resource.message)) {
        // Keep serving the last good assignment rather than one every gRPC client would NACK.
        if (previous) next.set(name, previous);
        continue;
      }
      const bytes = encodeMessage(typeUrl, resource.message);
      if (previous?.bytes.equals(bytes) && previous.wildcard === resource.wildcard) {
        // Same bytes: keep the old version, and its encodings and zone variants with it.
        next.set(name, previous);
        continue;
      }
      next.set(name, {
        name,
        version,
        any: { type_url: typeUrl, value: bytes },
        bytes,
        wildcard: resource.wildcard,
        service: resource.service,
        ...(resource.clientShares ? { clientShares: resource.clientShares } : {}),
        variants: new Map(),
      });
      changed.add(name);
    }
    for (const name of current.keys()) if (!next.has(name)) changed.add(name);
    this.entries.set(typeUrl, next);
    this.wildcard.set(
      typeUrl,
      [...next.values()]
        .filter((e) => e.wildcard)
        .map((e) => e.name)
        .sort(),
    );
    this.metrics?.setResourceCount(TYPE_SHORT_NAME[typeUrl], next.size);
    return changed;
  }

  private isValidAssignment(name: string, message: object): boolean {
    const problems = validateClusterLoadAssignment(message);
    if (problems.length === 0) return true;
    this.logger.error(
      { resource: name, problems },
      'xds cache: invalid ClusterLoadAssignment not published; last good one kept',
    );
    return false;
  }

  /**
   * The CLA with `zone` at priority 0, memoized per (version, zone) so N subscribers in Z zones
   * cost Z encodings. A zone with no endpoints gets the shared assignment (no priority gap).
   */
  private zoneVariant(entry: Entry, service: ServicePortEndpoints, zone: string): CachedResource {
    if (!service.endpoints.some((e) => e.zone === zone)) return entry;
    const cached = entry.variants.get(zone);
    if (cached) return cached;
    const variant: CachedResource = {
      name: entry.name,
      version: entry.version,
      any: packAny(
        TYPE_URL.clusterLoadAssignment,
        toClusterLoadAssignment(service, {
          callerZone: zone,
          ...(entry.clientShares ? { clientShares: entry.clientShares } : {}),
        }),
      ),
    };
    entry.variants.set(zone, variant);
    return variant;
  }
}
