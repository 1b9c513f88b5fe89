/**
 * Our per-endpoint metadata, carried in `LbEndpoint.metadata.filter_metadata[FILTER_METADATA_KEY]`
 * (a google.protobuf.Struct). The control plane writes it; the client reads it.
 */
export const FILTER_METADATA_KEY = 'skewless';

/** Pod annotations the control plane reads into endpoint metadata (documented in control-plane/README.md). */
export const POD_ANNOTATION = {
  /** Relative endpoint weight, integer 1..128 (Envoy's load_balancing_weight range is 1..). */
  weight: 'skewless.dev/weight',
  /** Free-form shard identifier, passed through to clients. */
  shard: 'skewless.dev/shard',
} as const;

export interface EndpointMetadata {
  pod?: string;
  namespace?: string;
  node?: string;
  zone?: string;
  shard?: string;
}

/**
 * Our per-locality metadata, in `LocalityLbEndpoints.metadata.filter_metadata[FILTER_METADATA_KEY]`,
 * present only when the control plane knows zones of clients subscribed to the resource: the
 * calling fleet's share per zone (Envoy's local%), each 0..1, rounded to 0.01.
 */
export interface LocalityMetadata {
  /** Share of the subscribing clients in this locality's zone (0 when none). */
  clientShare: number;
  /** Every zone with subscribing clients → its share, including zones without endpoints. */
  clientShares: Record<string, number>;
}
