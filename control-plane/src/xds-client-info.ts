/**
 * Who is on the other end of an ADS stream, read once from the first request's `node`, and what
 * that client is owed: per-client zone priority when it asks for it (or the server defaults to it).
 *
 * The client's zone is `node.locality.zone`; when that is empty and the server was given a
 * `resolveClientZone` function, the zone is resolved from the client's pod identity (node metadata
 * `POD_NAME`/`POD_NAMESPACE`, else a node.id of the form `<namespace>/<pod>`). Only that function
 * crosses into this layer: the protocol code never sees Kubernetes.
 */
import type { Node__Output } from '@skewless/shared';
import type { ClientVariant } from './xds-cache.ts';

/** Node metadata key a client sets to `true` (or `false`) to opt into (or out of) zone priority. */
export const ZONE_PRIORITY_METADATA_KEY = 'skewless.zone_priority';

/** Node metadata keys (string values) naming the client's pod, as the Downward API env names them. */
export const POD_NAME_METADATA_KEY = 'POD_NAME';
export const POD_NAMESPACE_METADATA_KEY = 'POD_NAMESPACE';

export interface ClientIdentity {
  readonly nodeId: string;
  readonly podName?: string;
  readonly podNamespace?: string;
}

/** Maps a client to its zone; undefined when unknown (yet). Must be cheap and synchronous. */
export type ResolveClientZone = (client: ClientIdentity) => string | undefined;

export interface ClientInfo {
  readonly nodeId: string;
  readonly cluster: string;
  /** '' when unknown. */
  readonly zone: string;
  /** Where `zone` came from: the node's locality, the resolver, or nowhere (yet). */
  readonly zoneSource: 'locality' | 'resolved' | 'unknown';
  readonly identity: ClientIdentity;
  readonly userAgent: string;
  readonly zonePriority: boolean;
  /** What the cache should tailor for this client (EDS only). */
  readonly variant: ClientVariant;
}

export function readClientInfo(
  node: Node__Output | null | undefined,
  zoneAffinityByDefault: boolean,
  resolveZone?: ResolveClientZone,
): ClientInfo {
  const flag = node?.metadata?.fields?.[ZONE_PRIORITY_METADATA_KEY];
  // An explicit boolean wins over the server default, so one client can opt out.
  const zonePriority = flag?.kind === 'boolValue' ? flag.boolValue === true : zoneAffinityByDefault;
  const identity = readIdentity(node);
  const locality = node?.locality?.zone ?? '';
  const base = {
    nodeId: identity.nodeId,
    cluster: node?.cluster ?? '',
    identity,
    userAgent: [node?.user_agent_name, node?.user_agent_version].filter(Boolean).join('/'),
    zonePriority,
  };
  if (locality !== '') return withZone(base, locality, 'locality');
  return withZone(base, '', 'unknown', resolveZone);
}

/**
 * The same client with its zone resolved again, or undefined if nothing changed. Only a zone that
 * did not come from the locality is re-resolved: a client that states its zone is believed.
 */
export function resolveZoneAgain(info: ClientInfo, resolveZone: ResolveClientZone | undefined): ClientInfo | undefined {
  if (info.zoneSource === 'locality' || !resolveZone) return undefined;
  const next = withZone(info, '', 'unknown', resolveZone);
  return next.zone === info.zone ? undefined : next;
}

function withZone(
  base: Omit<ClientInfo, 'zone' | 'zoneSource' | 'variant'>,
  zone: string,
  source: ClientInfo['zoneSource'],
  resolveZone?: ResolveClientZone,
): ClientInfo {
  let resolved = zone;
  let zoneSource = source;
  if (resolved === '' && resolveZone) {
    resolved = resolveZone(base.identity) ?? '';
    zoneSource = resolved === '' ? 'unknown' : 'resolved';
  }
  return {
    ...base,
    zone: resolved,
    zoneSource,
    variant: base.zonePriority && resolved !== '' ? { callerZone: resolved } : {},
  };
}

/** Pod identity from node metadata, else from a node.id shaped `<namespace>/<pod>` (our client's default). */
export function readIdentity(node: Node__Output | null | undefined): ClientIdentity {
  const nodeId = node?.id ?? '';
  const fields = node?.metadata?.fields;
  const text = (key: string) => {
    const value = fields?.[key];
    return value?.kind === 'stringValue' && value.stringValue !== '' ? value.stringValue : undefined;
  };
  const podName = text(POD_NAME_METADATA_KEY);
  const podNamespace = text(POD_NAMESPACE_METADATA_KEY);
  if (podName !== undefined && podNamespace !== undefined) return { nodeId, podName, podNamespace };
  const parts = nodeId.split('/');
  if (parts.length === 2 && parts[0] && parts[1]) return { nodeId, podNamespace: parts[0], podName: parts[1] };
  return { nodeId };
}
