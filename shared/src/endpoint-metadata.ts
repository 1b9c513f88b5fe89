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
