/** What an ADS stream (SotW or delta) needs from the server around it, kept free of gRPC types. */
import type { Logger } from '@skewless/shared';
import type { XdsMetrics } from './metrics.ts';
import type { XdsCacheView } from './xds-cache.ts';

export interface StreamDeps {
  readonly cache: XdsCacheView;
  readonly metrics: XdsMetrics;
  readonly zoneAffinityByDefault: boolean;
  /** Same clock as the cache's, for push latency. */
  readonly now: () => number;
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
