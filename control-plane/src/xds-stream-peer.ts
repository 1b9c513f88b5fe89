/**
 * Who is on the other end of one ADS stream, shared by the SotW and delta streams: read from the
 * first request's node, and, while the client's zone is unknown (its Pod not seen yet), resolved
 * again on every later request or when discovery asks. The stream decides what a zone change
 * means for what it has sent.
 */
import type { Logger, Node__Output } from '@skewless/shared';
import { type ClientInfo, readClientInfo, resolveZoneAgain } from './xds-client-info.ts';
import type { StreamDeps } from './xds-stream-common.ts';

export interface ZoneChange {
  readonly before: ClientInfo;
  readonly next: ClientInfo;
}

export class StreamPeer {
  private readonly deps: StreamDeps;
  private readonly kind: 'sotw' | 'delta';
  private current: ClientInfo | undefined;
  /** The stream's logger, tagged with the node id once known. */
  logger: Logger;

  constructor(deps: StreamDeps, kind: 'sotw' | 'delta', logger: Logger) {
    this.deps = deps;
    this.kind = kind;
    this.logger = logger;
  }

  /** The client, once its first request arrived. */
  get info(): ClientInfo | undefined {
    return this.current;
  }

  /** Call on every request: identifies the client on the first, retries an unknown zone on later ones. */
  observe(node: Node__Output | null | undefined): ZoneChange | undefined {
    if (this.current) return this.current.zoneSource === 'unknown' ? this.refresh() : undefined;
    const info = readClientInfo(node, this.deps.zoneAffinityByDefault, this.deps.resolveClientZone);
    this.current = info;
    this.logger = this.logger.child({ nodeId: info.nodeId });
    this.logger.info(
      { zone: info.zone, zoneSource: info.zoneSource, zonePriority: info.zonePriority, userAgent: info.userAgent },
      `xds client connected (${this.kind})`,
    );
    return undefined;
  }

  /** Resolves the zone again; returns the change when there is one. */
  refresh(): ZoneChange | undefined {
    const before = this.current;
    const next = before && resolveZoneAgain(before, this.deps.resolveClientZone);
    if (!before || !next) return undefined;
    this.current = next;
    this.logger.info({ zone: next.zone, was: before.zone }, 'xds client zone resolved');
    return { before, next };
  }
}
