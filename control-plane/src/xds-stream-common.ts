/** What an ADS stream (SotW or delta) needs from the server around it, kept free of gRPC types. */
import type { Logger } from '@skewless/shared';
import type { XdsMetrics } from './metrics.ts';
import type { XdsCacheView } from './xds-cache.ts';
import type { ResolveClientZone } from './xds-client-info.ts';

export interface StreamDeps {
  readonly cache: XdsCacheView;
  readonly metrics: XdsMetrics;
  readonly zoneAffinityByDefault: boolean;
  /** Same clock as the cache's, for push latency. */
  readonly now: () => number;
  /** Zone of a client whose `node.locality.zone` is empty (its pod's node's zone); optional. */
  readonly resolveClientZone?: ResolveClientZone;
}

/** What the server asks of any stream beyond requests and cache changes. */
export interface ManagedStream {
  /** Resolve an unknown (or resolved) client zone again, e.g. after discovery saw its Pod. */
  refreshZone(): void;
  /** The stream ended: take back what it reported. */
  onClose(): void;
}

/** The stream's way out; the server binds it to a gRPC call. */
export interface StreamTransport<Response> {
  send(response: Response): void;
}

/** Logs a request for a type we do not serve, once per stream and type, and says whether to skip it. */
export class UnknownTypeLog {
  private readonly seen = new Set<string>();

  report(logger: Logger, typeUrl: string): void {
    if (this.seen.has(typeUrl)) return;
    this.seen.add(typeUrl);
    logger.warn({ typeUrl }, `ignoring requests for unknown xDS type URL "${typeUrl}" on this stream`);
  }
}
