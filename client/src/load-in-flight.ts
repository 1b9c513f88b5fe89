/** Load = calls picked for the endpoint and not yet ended (tower's PendingRequests). */
import type { EndpointStats } from './endpoint-stats.ts';
import type { Load } from './load.ts';

export const inFlightLoad: Load = {
  name: 'in-flight',
  needsClock: false,
  of: (stats: EndpointStats) => stats.inFlight + stats.pending,
};
