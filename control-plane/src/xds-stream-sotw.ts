/**
 * One state-of-the-world ADS stream (StreamAggregatedResources): per type, the subscription, the
 * last response (nonce, version, content) and whether the client has answered it.
 *
 * Rules kept here, each against a bug xDS servers are known for:
 * - At most one unanswered response per type; changes arriving meanwhile are folded into the next.
 * - A NACK (latest nonce + error_detail) is logged and NOT answered with the same content: the
 *   next response for that type carries a newer version, or a new subscription.
 * - A request with a stale nonce is ignored (the client will re-request with the latest one); a
 *   nonce from before this stream's first response of the type (another stream, another server
 *   instance) makes a plain request, answered like a first one.
 * - After a CDS (LDS) response, the next EDS (RDS) request is always answered, even if nothing
 *   changed: Envoy re-requests EDS for warming clusters and waits for an answer.
 * - LDS and CDS responses always carry the full set (the client deletes what is missing); an EDS
 *   or RDS push carries only the resources whose version changed, which the spec allows for these
 *   types and which keeps a rollout of one service from re-sending every other service a client
 *   watches. A forced answer (first request, new names, EDS after CDS) carries everything.
 */
import {
  type DiscoveryRequest__Output,
  type DiscoveryResponse,
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
import { dependentType, isAffected, isWildcardType, resolve, type Subscription, WILDCARD } from './xds-subscription.ts';

interface TypeState {
  readonly subscription: Subscription;
  /** Nonce of the last response ('' before the first). */
  nonce: string;
  /** version_info of the last response. */
  version: string;
  /** name → version of every resource the client was last sent; undefined before the first response. */
  sent: Map<string, string> | undefined;
  /** A response is out and the client has neither ACKed nor NACKed it. */
  awaiting: boolean;
  /** Answer the next request even if nothing changed (EDS after CDS, RDS after LDS). */
  answerNext: boolean;
  /** Oldest cache acceptance time of a change not yet sent, for push latency. */
  pendingSinceMs: number | undefined;
}

export class SotwStream implements ManagedStream {
  private readonly deps: StreamDeps;
  private readonly transport: StreamTransport<DiscoveryResponse>;
  private readonly peer: StreamPeer;
  private readonly types = new Map<TypeUrl, TypeState>();
  private readonly unknownTypes = new UnknownTypeLog();
  private nonceCounter = 0;
  private readonly subscribers: SubscriberReport;

  constructor(deps: StreamDeps, transport: StreamTransport<DiscoveryResponse>, logger: Logger) {
    this.deps = deps;
    this.transport = transport;
    this.peer = new StreamPeer(deps, 'sotw', logger);
    this.subscribers = new SubscriberReport(deps.cache);
  }

  get nodeId(): string | undefined {
    return this.peer.info?.nodeId;
  }

  onRequest(request: DiscoveryRequest__Output): void {
    const zoneChange = this.peer.observe(request.node);
    if (zoneChange) this.onZoneResolved(zoneChange);
    const typeUrl = request.type_url;
    if (!isKnownTypeUrl(typeUrl)) {
      this.unknownTypes.report(this.peer.logger, typeUrl);
      return;
    }
    const existing = this.types.get(typeUrl);
    const state = existing ?? this.newState(typeUrl);
    const nonce = request.response_nonce;
    this.peer.logger.trace({ type: TYPE_SHORT_NAME[typeUrl], nonce, names: request.resource_names.length }, 'request');
    // A nonce before this stream sent anything of the type answers another stream, maybe of another
    // server instance (a client reconnecting after a control-plane restart): it is a plain request
    // and must be answered, as go-control-plane does. Only a nonce of this stream can be stale.
    const ours = nonce !== '' && state.nonce !== '';
    if (ours && nonce !== state.nonce) {
      this.peer.logger.debug(
        { type: TYPE_SHORT_NAME[typeUrl], nonce, latest: state.nonce },
        'ignoring request with stale nonce',
      );
      return;
    }
    const isNack = ours && request.error_detail !== null;
    if (ours) state.awaiting = false;
    if (isNack) this.reportNack(typeUrl, state, request);
    const subscriptionChanged = this.updateSubscription(typeUrl, state, request.resource_names, existing === undefined);
    if (subscriptionChanged && typeUrl === TYPE_URL.clusterLoadAssignment) {
      this.subscribers.update(this.peer.info?.zone ?? '', state.subscription.names);
    }
    if (isNack) {
      // Only a new subscription or newer content earns a response; never the rejected one again.
      this.respond(typeUrl, state, subscriptionChanged);
      return;
    }
    const force = existing === undefined || subscriptionChanged || state.answerNext;
    this.respond(typeUrl, state, force);
  }

  onCacheChange(change: CacheChange): void {
    for (const [typeUrl, state] of this.types) {
      const affected = isAffected(state.subscription, change.changed.get(typeUrl));
      // A request that arrived before the cache was ready is still owed its first response.
      if (!affected && state.sent !== undefined) continue;
      if (affected) state.pendingSinceMs ??= change.acceptedAtMs;
      this.respond(typeUrl, state, false);
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
    // Same versions, different content (the per-zone variant): resend everything, now or on the next ACK.
    eds.sent = undefined;
    eds.answerNext = true;
    this.respond(TYPE_URL.clusterLoadAssignment, eds, true);
  }

  onClose(): void {
    this.subscribers.clear();
  }

  private newState(typeUrl: TypeUrl): TypeState {
    const state: TypeState = {
      subscription: { wildcard: false, names: new Set() },
      nonce: '',
      version: '',
      sent: undefined,
      awaiting: false,
      answerNext: false,
      pendingSinceMs: undefined,
    };
    this.types.set(typeUrl, state);
    return state;
  }

  /** Applies the request's full list of names; returns whether the subscription changed. */
  private updateSubscription(typeUrl: TypeUrl, state: TypeState, names: readonly string[], first: boolean): boolean {
    const { subscription } = state;
    const explicit = names.filter((n) => n !== WILDCARD);
    const wildcard =
      names.includes(WILDCARD) || (isWildcardType(typeUrl) && names.length === 0 && (first || subscription.wildcard));
    const changed =
      wildcard !== subscription.wildcard ||
      explicit.length !== subscription.names.size ||
      explicit.some((n) => !subscription.names.has(n));
    if (!changed) return false;
    subscription.wildcard = wildcard;
    subscription.names.clear();
    for (const name of explicit) subscription.names.add(name);
    return true;
  }

  /** Sends the current resources if they differ from what the client has, or all of them if `force`. */
  private respond(typeUrl: TypeUrl, state: TypeState, force: boolean): void {
    const { cache } = this.deps;
    if (!cache.ready() || state.awaiting) return;
    const resources = resolve(cache, typeUrl, state.subscription, this.peer.info?.variant ?? {});
    const sent = state.sent;
    const changed = sent === undefined ? resources : resources.filter((r) => sent.get(r.name) !== r.version);
    const fullSetType = isWildcardType(typeUrl);
    // For LDS/CDS a resource that left the set is itself a change: the full set tells the client to drop it.
    const current = new Set(resources.map((r) => r.name));
    const removed = fullSetType && sent !== undefined && [...sent.keys()].some((name) => !current.has(name));
    if (!force && sent !== undefined && changed.length === 0 && !removed) {
      state.pendingSinceMs = undefined;
      return;
    }
    const toSend = force || fullSetType ? resources : changed;
    const nonce = String(++this.nonceCounter);
    const version = cache.typeVersion(typeUrl);
    this.transport.send({ version_info: version, resources: toSend.map((r) => r.any), type_url: typeUrl, nonce });
    const latencyMs = state.pendingSinceMs === undefined ? undefined : this.deps.now() - state.pendingSinceMs;
    this.deps.metrics.pushed(TYPE_SHORT_NAME[typeUrl], latencyMs);
    const nextSent = fullSetType || sent === undefined ? new Map<string, string>() : sent;
    for (const r of toSend) nextSent.set(r.name, r.version);
    Object.assign(state, {
      nonce,
      version,
      sent: nextSent,
      awaiting: true,
      answerNext: false,
      pendingSinceMs: undefined,
    });
    this.peer.logger.debug({ type: TYPE_SHORT_NAME[typeUrl], version, nonce, resources: toSend.length }, 'sent');
    const dependent = dependentType(typeUrl);
    const dependentState = dependent && this.types.get(dependent);
    if (dependentState) dependentState.answerNext = true;
  }

  private reportNack(typeUrl: TypeUrl, state: TypeState, request: DiscoveryRequest__Output): void {
    const type = TYPE_SHORT_NAME[typeUrl];
    this.deps.metrics.nacked(type);
    this.peer.logger.warn(
      {
        type,
        typeUrl,
        rejectedVersion: state.version,
        acceptedVersion: request.version_info,
        nonce: request.response_nonce,
        error: request.error_detail?.message,
        code: request.error_detail?.code,
      },
      `xds client rejected (NACK) ${type} version ${state.version}: ${request.error_detail?.message ?? ''}; waiting for a newer version`,
    );
  }
}
