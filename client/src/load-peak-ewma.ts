/** Peak-EWMA load: latency weighted by the queue we would join (Finagle, Linkerd, tower). */
import type { EndpointStats } from './endpoint-stats.ts';
import type { Load } from './load.ts';

/** Cost = RTT estimate × (in-flight + 1): latency weighted by the queue we would join. */
export const peakEwmaLoad: Load = {
  name: 'peak-ewma',
  needsClock: true,
  of: (stats: EndpointStats, nowMs: number) => stats.ewma.estimateMs(nowMs) * (stats.inFlight + stats.pending + 1),
};
