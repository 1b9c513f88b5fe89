/**
 * One incremental ADS stream (DeltaAggregatedResources): per type, the subscription and the
 * version of every resource the client has been sent, so each response carries only what changed
 * and `removed_resources` names what disappeared.
 *
 * Same discipline as the SotW stream: one unanswered response per type; a NACK is logged and the
 * rejected versions are not sent again (they stay recorded as sent); subscription changes apply
 * even on a stale nonce (in delta they are increments, dropping one would lose it); a name
 * subscribed again is re-sent; and the assignment of a changed cluster is re-sent unasked, which
 * is what a warming Envoy cluster waits for.
 */
import {
  type DeltaDiscoveryRequest__Output,
  type DeltaDiscoveryResponse,
  isKnownTypeUrl,
  type Logger,
  TYPE_SHORT_NAME,
  TYPE_URL,
  type TypeUrl,
} from '@skewless/shared';
import type { CacheChange } from './xds-cache.ts';
import { type ManagedStream, type StreamDeps, type StreamTransport, UnknownTypeLog } from './xds-stream-common.ts';
import { StreamPeer, type ZoneChange } from './xds-stream-peer.ts';
import { SubscriberReport } from './xds-subscriber-report.ts';
import {
  dependentType,
  isAffected,
  isSubscribed,
  isWildcardType,
  resolve,
  type Subscription,
  WILDCARD,
} from './xds-subscription.ts';

interface TypeState {
  readonly subscription: Subscription;
  /** name → version the client has (or was last sent, ACKed or not). */
  readonly known: Map<string, string>;
  nonce: string;
  /** `name@version` of the last response, for NACK logs. */
  inFlight: string[];
  sentAny: boolean;
  awaiting: boolean;
  pendingSinceMs: number | undefined;
}

export class DeltaStream implements ManagedStream {
  private readonly deps: StreamDeps;
  private readonly transport: StreamTransport<DeltaDiscoveryResponse>;
  private readonly peer: StreamPeer;
  private readonly types = new Map<TypeUrl, TypeState>();
  private readonly unknownTypes = new UnknownTypeLog();
  private nonceCounter = 0;
  private readonly subscribers: SubscriberReport;

  constructor(deps: StreamDeps, transport: StreamTransport<DeltaDiscoveryResponse>, logger: Logger) {
    this.deps = deps;
    this.transport = transport;
    this.peer = new StreamPeer(deps, 'delta', logger);
    this.subscribers = new SubscriberReport(deps.cache);
  }

  onRequest(request: DeltaDiscoveryRequest__Output): void {
    const zoneChange = this.peer.observe(request.node);
    if (zoneChange) this.onZoneResolved(zoneChange);
    const typeUrl = request.type_url;
    if (!isKnownTypeUrl(typeUrl)) {
      this.unknownTypes.report(this.peer.logger, typeUrl);
      return;
    }
    const existing = this.types.get(typeUrl);
    this.peer.logger.trace(
      {
        type: TYPE_SHORT_NAME[typeUrl],
        nonce: request.response_nonce,
        subscribe: request.resource_names_subscribe,
        unsubscribe: request.resource_names_unsubscribe,
        initial: Object.keys(request.initial_resource_versions).length,
      },
      'request',
    );
    const state = existing ?? this.newState(typeUrl);
    if (!existing) this.initialize(typeUrl, state, request);
    else this.applySubscriptionChange(state, request);
    if (typeUrl === TYPE_URL.clusterLoadAssignment)
      this.subscribers.update(this.peer.info?.zone ?? '', state.subscription.names);

    const nonce = request.response_nonce;
    if (nonce !== '') {
      if (nonce !== state.nonce) {
        this.peer.logger.debug(
          { type: TYPE_SHORT_NAME[typeUrl], nonce, latest: state.nonce },
          'stale nonce: ACK/NACK ignored',
        );
      } else {
        state.awaiting = false;
        if (request.error_detail !== null) this.reportNack(typeUrl, state, request);
      }
    }
    this.respond(typeUrl, state);
  }

  onCacheChange(change: CacheChange): void {
    for (const [typeUrl, state] of this.types) {
      const affected = isAffected(state.subscription, change.changed.get(typeUrl));
      if (!affected && state.sentAny) continue;
      if (affected) state.pendingSinceMs ??= change.acceptedAtMs;
      this.respond(typeUrl, state);
    }
  }

  refreshZone(): void {
    const zoneChange = this.peer.refresh();
    if (zoneChange) this.onZoneResolved(zoneChange);
  }

  /** The client's zone became known (or changed): re-count it, and resend assignments if their variant changed. */
  private onZoneResolved({ before, next }: ZoneChange): void {
    const eds = this.types.get(TYPE_URL.clusterLoadAssignment);
    if (!eds) return;
    this.subscribers.update(next.zone, eds.subscription.names);
    if (next.variant.callerZone === before.variant.callerZone) return;
    // Same versions, different content (the per-zone variant): forget what the client has, resend it all.
    eds.known.clear();
    this.respond(TYPE_URL.clusterLoadAssignment, eds);
  }

  onClose(): void {
    this.subscribers.clear();
  }

  private newState(typeUrl: TypeUrl): TypeState {
    const state: TypeState = {
      subscription: { wildcard: false, names: new Set() },
      known: new Map(),
      nonce: '',
      inFlight: [],
      sentAny: false,
      awaiting: false,
      pendingSinceMs: undefined,
    };
    this.types.set(typeUrl, state);
    return state;
  }

  private initialize(typeUrl: TypeUrl, state: TypeState, request: DeltaDiscoveryRequest__Output): void {
    const subscribe = request.resource_names_subscribe;
    state.subscription.wildcard = subscribe.includes(WILDCARD) || (isWildcardType(typeUrl) && subscribe.length === 0);
    for (const name of subscribe) if (name !== WILDCARD) state.subscription.names.add(name);
    // A reconnecting client tells us what it has; only what differs is sent (and what is gone, removed).
    for (const [name, version] of Object.entries(request.initial_resource_versions)) state.known.set(name, version);
  }

  private applySubscriptionChange(state: TypeState, request: DeltaDiscoveryRequest__Output): void {
    const { subscription, known } = state;
    for (const name of request.resource_names_subscribe) {
      if (name === WILDCARD) subscription.wildcard = true;
      else {
        subscription.names.add(name);
        known.delete(name);
      }
    }
    for (const name of request.resource_names_unsubscribe) {
      if (name === WILDCARD) subscription.wildcard = false;
      else subscription.names.delete(name);
    }
    // Forget what the client no longer watches, so a later subscribe gets it again.
    for (const name of known.keys()) if (!isSubscribed(subscription, name)) known.delete(name);
  }

  private respond(typeUrl: TypeUrl, state: TypeState): void {
    const { cache } = this.deps;
    if (!cache.ready() || state.awaiting) return;
    const resources = resolve(cache, typeUrl, state.subscription, this.peer.info?.variant ?? {});
    const present = new Set(resources.map((r) => r.name));
    const changed = resources.filter((r) => state.known.get(r.name) !== r.version);
    const removed = [...state.known.keys()].filter((name) => !present.has(name)).sort();
    // The first response is owed even when empty: Envoy finishes initialization on it.
    if (changed.length === 0 && removed.length === 0 && state.sentAny) {
      state.pendingSinceMs = undefined;
      return;
    }
    const nonce = String(++this.nonceCounter);
    const version = cache.typeVersion(typeUrl);
    this.transport.send({
      system_version_info: version,
      type_url: typeUrl,
      nonce,
      resources: changed.map((r) => ({ name: r.name, version: r.version, resource: r.any })),
      removed_resources: removed,
    });
    for (const r of changed) state.known.set(r.name, r.version);
    for (const name of removed) state.known.delete(name);
    const latencyMs = state.pendingSinceMs === undefined ? undefined : this.deps.now() - state.pendingSinceMs;
    this.deps.metrics.pushed(TYPE_SHORT_NAME[typeUrl], latencyMs);
    Object.assign(state, {
      nonce,
      inFlight: changed.map((r) => `${r.name}@${r.version}`),
      sentAny: true,
      awaiting: true,
      pendingSinceMs: undefined,
    });
    this.peer.logger.debug(
      { type: TYPE_SHORT_NAME[typeUrl], version, nonce, resources: changed.length, removed: removed.length },
      'sent',
    );
    this.resendDependents(
      typeUrl,
      changed.map((r) => r.name),
    );
  }

  /**
   * A changed Cluster makes Envoy warm a new cluster that waits for its endpoints, yet in delta
   * Envoy sends no new EDS subscription for a name it already watches (its ACK of the CDS update
   * even waits for warming to finish). So resend the EDS resources named like the changed clusters
   * (our clusters and assignments share the service key). Same rule for RDS after LDS, where it
   * applies only if a route config is named like its listener.
   */
  private resendDependents(typeUrl: TypeUrl, names: readonly string[]): void {
    const dependent = dependentType(typeUrl);
    const state = dependent && this.types.get(dependent);
    if (!dependent || !state) return;
    let forgotten = false;
    for (const name of names) forgotten = state.known.delete(name) || forgotten;
    if (forgotten) this.respond(dependent, state);
  }

  private reportNack(typeUrl: TypeUrl, state: TypeState, request: DeltaDiscoveryRequest__Output): void {
    const type = TYPE_SHORT_NAME[typeUrl];
    this.deps.metrics.nacked(type);
    this.peer.logger.warn(
      {
        type,
        typeUrl,
        rejected: state.inFlight,
        nonce: request.response_nonce,
        error: request.error_detail?.message,
        code: request.error_detail?.code,
      },
      `xds client rejected (NACK) ${type} [${state.inFlight.join(', ')}]: ${request.error_detail?.message ?? ''}; waiting for newer versions`,
    );
  }
}
