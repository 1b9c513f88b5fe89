/**
 * The endpoint model: what the Kubernetes side discovers and the xDS side serves.
 * Plain data, no Kubernetes or protobuf types, so both sides meet here and nowhere else.
 */
import type { ServiceKey } from '@skewless/shared';

/**
 * xDS health of one endpoint, mapped from EndpointSlice conditions:
 * ready → HEALTHY; serving and terminating → DRAINING; anything else → UNHEALTHY.
 */
export type EndpointHealth = 'HEALTHY' | 'DRAINING' | 'UNHEALTHY';

export interface EndpointRecord {
  /** IP literal (IPv4 or IPv6, no brackets). */
  readonly address: string;
  readonly port: number;
  readonly health: EndpointHealth;
  /** `topology.kubernetes.io/zone`, from the slice or the Node; '' when unknown. */
  readonly zone: string;
  readonly node?: string;
  readonly pod?: string;
  readonly podNamespace?: string;
  /** Relative weight ≥ 1 (pod annotation `skewless.dev/weight`, default 1). */
  readonly weight: number;
  /** Pod annotation `skewless.dev/shard`, passed through. */
  readonly shard?: string;
}

/** Every endpoint of one Service port, merged over all of the Service's EndpointSlices. */
export interface ServicePortEndpoints {
  readonly key: ServiceKey;
  /** `formatServiceKey(key)`: the Cluster and EDS resource name. */
  readonly name: string;
  /** Service port number (what clients would dial on the ClusterIP). */
  readonly servicePort: number;
  /** `appProtocol` of the Service port when set (e.g. `kubernetes.io/h2c`, `grpc`). */
  readonly appProtocol?: string;
  /** De-duplicated by address:port, sorted by address then port, so equal states compare equal. */
  readonly endpoints: readonly EndpointRecord[];
}

/**
 * Where discovery publishes state. The contract: `replaceAll` is only ever called with a complete,
 * consistent view (never mid-relist, never after a watch error wiped a cache), and repeated calls
 * with an equal view must cost the subscribers nothing.
 */
export interface EndpointSink {
  replaceAll(services: readonly ServicePortEndpoints[]): void;
}
