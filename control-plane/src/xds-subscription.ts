/**
 * What one stream is subscribed to for one resource type, shared by the SotW and delta streams:
 * wildcard (Envoy's LDS/CDS) and/or explicit names (gRPC, EDS, RDS).
 */
import { TYPE_URL, type TypeUrl } from '@skewless/shared';
import type { CachedResource, ClientVariant, XdsCacheView } from './xds-cache.ts';

export const WILDCARD = '*';

/** Types where an empty first request means "everything" (legacy wildcard, xDS spec). */
export function isWildcardType(typeUrl: TypeUrl): boolean {
  return typeUrl === TYPE_URL.listener || typeUrl === TYPE_URL.cluster;
}

export interface Subscription {
  wildcard: boolean;
  readonly names: Set<string>;
}

export function isSubscribed(subscription: Subscription, name: string): boolean {
  return subscription.wildcard || subscription.names.has(name);
}

/** Interest in `typeUrl` touched by a change of `changed` names. */
export function isAffected(subscription: Subscription, changed: ReadonlySet<string> | undefined): boolean {
  if (!changed) return false;
  if (subscription.wildcard) return true;
  for (const name of changed) if (subscription.names.has(name)) return true;
  return false;
}

/** The resources the subscription resolves to now, sorted by name; absent names are skipped. */
export function resolve(
  cache: XdsCacheView,
  typeUrl: TypeUrl,
  subscription: Subscription,
  variant: ClientVariant,
): CachedResource[] {
  const names = subscription.wildcard
    ? new Set([...cache.wildcardNames(typeUrl), ...subscription.names])
    : subscription.names;
  const out: CachedResource[] = [];
  for (const name of [...names].sort()) {
    const resource = cache.get(typeUrl, name, variant);
    if (resource) out.push(resource);
  }
  return out;
}

/** Which type a client re-requests after a change of `typeUrl`: EDS after CDS, RDS after LDS. */
export function dependentType(typeUrl: TypeUrl): TypeUrl | undefined {
  if (typeUrl === TYPE_URL.cluster) return TYPE_URL.clusterLoadAssignment;
  if (typeUrl === TYPE_URL.listener) return TYPE_URL.routeConfiguration;
  return undefined;
}
