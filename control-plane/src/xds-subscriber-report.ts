/**
 * What one stream has reported to the cache's SubscriberTally: its client's zone and the EDS names
 * it watches. Reports only differences, and takes everything back when the stream ends, so the
 * cache's counts always equal the open streams' subscriptions. Wildcard EDS subscriptions are not
 * counted (they are rare: Envoy and gRPC name their EDS resources).
 */
import type { SubscriberTally } from './xds-cache.ts';

export class SubscriberReport {
  private readonly tally: SubscriberTally;
  private zone = '';
  private names = new Set<string>();

  constructor(tally: SubscriberTally) {
    this.tally = tally;
  }

  /** The stream's client is in `zone` ('' = unknown, counted nowhere) and watches `names`. */
  update(zone: string, names: ReadonlySet<string>): void {
    if (zone !== this.zone) {
      this.clear();
      this.zone = zone;
    }
    if (zone === '') return;
    for (const name of this.names) if (!names.has(name)) this.tally.countSubscribers(name, zone, -1);
    for (const name of names) if (!this.names.has(name)) this.tally.countSubscribers(name, zone, 1);
    this.names = new Set(names);
  }

  /** Takes back everything reported (the stream ended). */
  clear(): void {
    if (this.zone !== '') for (const name of this.names) this.tally.countSubscribers(name, this.zone, -1);
    this.names = new Set();
  }
}
