/**
 * Another member of the calling fleet, as the control plane sees it: a raw ADS stream with its own
 * `node` that subscribes to one EDS resource and ACKs every response. Stands for clients in other
 * processes (one process has one node identity), so tests can shape the fleet's zones.
 */
import * as grpc from '@grpc/grpc-js';
import {
  adsGrpc,
  type DiscoveryRequest,
  type DiscoveryResponse__Output,
  type Node,
  TYPE_URL,
  toProtoStruct,
} from '@skewless/shared';

export interface FleetPeer {
  /** Responses received so far. */
  readonly responses: number;
  close(): void;
}

export function startFleetPeer(
  port: number,
  resource: string,
  identity: { zone?: string; podName?: string; podNamespace?: string },
): FleetPeer {
  const Ads = adsGrpc().envoy.service.discovery.v3.AggregatedDiscoveryService;
  const client = new Ads(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = client.StreamAggregatedResources() as grpc.ClientDuplexStream<
    DiscoveryRequest,
    DiscoveryResponse__Output
  >;
  const metadata: Record<string, string> = {};
  if (identity.podName) metadata.POD_NAME = identity.podName;
  if (identity.podNamespace) metadata.POD_NAMESPACE = identity.podNamespace;
  const node: Node = {
    id: `peer-${identity.podName ?? identity.zone ?? 'anonymous'}`,
    metadata: toProtoStruct(metadata),
    ...(identity.zone ? { locality: { zone: identity.zone } } : {}),
  };
  const peer = {
    responses: 0,
    close: () => {
      call.cancel();
      client.close();
    },
  };
  call.on('error', () => {});
  call.on('data', (response: DiscoveryResponse__Output) => {
    peer.responses += 1;
    call.write({
      type_url: TYPE_URL.clusterLoadAssignment,
      resource_names: [resource],
      version_info: response.version_info,
      response_nonce: response.nonce,
    });
  });
  call.write({ node, type_url: TYPE_URL.clusterLoadAssignment, resource_names: [resource] });
  return peer;
}
