/**
 * Who is on the other end of an ADS stream, read once from the first request's `node`, and what
 * that client is owed: per-client zone priority when it asks for it (or the server defaults to it).
 */
import type { Node__Output } from '@skewless/shared';
import type { ClientVariant } from './xds-cache.ts';

/** Node metadata key a client sets to `true` (or `false`) to opt into (or out of) zone priority. */
export const ZONE_PRIORITY_METADATA_KEY = 'skewless.zone_priority';

export interface ClientInfo {
  readonly nodeId: string;
  readonly cluster: string;
  readonly zone: string;
  readonly userAgent: string;
  readonly zonePriority: boolean;
  /** What the cache should tailor for this client (EDS only). */
  readonly variant: ClientVariant;
}

export function readClientInfo(node: Node__Output | null | undefined, zoneAffinityByDefault: boolean): ClientInfo {
  const zone = node?.locality?.zone ?? '';
  const flag = node?.metadata?.fields?.[ZONE_PRIORITY_METADATA_KEY];
  // An explicit boolean wins over the server default, so one client can opt out.
  const zonePriority = flag?.kind === 'boolValue' ? flag.boolValue === true : zoneAffinityByDefault;
  return {
    nodeId: node?.id ?? '',
    cluster: node?.cluster ?? '',
    zone,
    userAgent: [node?.user_agent_name, node?.user_agent_version].filter(Boolean).join('/'),
    zonePriority,
    variant: zonePriority && zone !== '' ? { callerZone: zone } : {},
  };
}
