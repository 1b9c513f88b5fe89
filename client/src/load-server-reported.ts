/**
 * Load reported by the backend itself in a response trailer (`x-skewless-load`, a non-negative
 * number such as utilization or queue length), tie-broken by our own in-flight count so an
 * endpoint that never reports still gets balanced.
 */
import type { EndpointStats } from './endpoint-stats.ts';
import type { Load } from './load.ts';

export const SERVER_LOAD_TRAILER = 'x-skewless-load';

export const serverReportedLoad: Load = {
  name: 'server-reported',
  needsClock: false,
  of: (stats: EndpointStats) => stats.serverLoad + (stats.inFlight + stats.pending) * 1e-6,
};
