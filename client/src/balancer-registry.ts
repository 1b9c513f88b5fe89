/** Live balancers of this process and the shape of their snapshots (read for debugSnapshot() and metrics scrapes only). */
import type { ClientShareSource, ZoneRouting } from './zone-routing.ts';

export interface EndpointSnapshot {
  readonly address: string;
  readonly zone: string;
  readonly health: string;
  readonly connectivity: string;
  readonly removing: boolean;
  readonly weight: number;
  readonly effectiveWeight: number;
  readonly picks: number;
  readonly inFlight: number;
  readonly successes: number;
  readonly failures: number;
  readonly ewmaMs: number;
  readonly ejected: boolean;
  readonly ejections: number;
}

/** Where the zone routing's client shares (Envoy's local%) came from. */
export type { ClientShareSource } from './zone-routing.ts';

export interface BalancerSnapshot {
  readonly service: string;
  readonly strategy: string;
  readonly localZone: string | undefined;
  readonly source: string;
  readonly state: string;
  /** Pickers published so far: rises with state changes, never per call. */
  readonly pickersPublished: number;
  readonly panic: boolean;
  readonly zoneRouting: ZoneRouting;
  /** The client shares zone routing used, and their source. */
  readonly clientShares: { readonly source: ClientShareSource; readonly shares: Readonly<Record<string, number>> };
  readonly endpoints: readonly EndpointSnapshot[];
}

export interface SnapshotSource {
  snapshot(): BalancerSnapshot;
}

export const liveBalancers = new Set<SnapshotSource>();
