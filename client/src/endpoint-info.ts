/**
 * The side channel from our resolver to our LB policy. grpc-js 1.14 `Endpoint`s carry only
 * addresses, but resolver attributes are merged into the channel options handed to
 * `updateAddressList`. We put the per-endpoint xDS data (zone, health, weight, metadata) there,
 * under a key starting with grpc-js's SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX so it never reaches
 * subchannel options (which would split the subchannel pool and leak objects into channelz).
 */
import { experimental } from '@grpc/grpc-js';
import type { AssignedEndpoint } from './eds-assignment.ts';

export const ENDPOINT_INFO_OPTION = `${experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.skewless_endpoint_info`;

export interface EndpointInfo {
  /** By `host:port` (endpointKey). */
  readonly endpoints: ReadonlyMap<string, AssignedEndpoint>;
  /** This client's zone (config, env, or the control plane's priority-0 hint); undefined if unknown. */
  readonly localZone: string | undefined;
  /** The fleet's share per zone published by the control plane; undefined when it published none. */
  readonly clientShares: ReadonlyMap<string, number> | undefined;
  /** Where the list came from, for the debug snapshot. */
  readonly source: 'xds' | 'dns-fallback';
}
