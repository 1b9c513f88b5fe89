/**
 * Prometheus metrics of the xDS side, registered on an injected Registry (the process serves
 * it on /metrics; tests read it directly). One instance per server: names would clash otherwise.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ServicePortEndpoints } from './model.ts';

export type StreamKind = 'sotw' | 'delta';
export type TypeLabel = 'lds' | 'rds' | 'cds' | 'eds';

export class XdsMetrics {
  private readonly connected: Gauge<'stream'>;
  private readonly pushes: Counter<'type'>;
  private readonly pushLatency: Histogram<'type'>;
  private readonly nacks: Counter<'type'>;
  private readonly endpoints: Gauge<'cluster' | 'health'>;
  private readonly resources: Gauge<'type'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.connected = new Gauge({
      name: 'skewless_xds_connected_clients',
      help: 'Open ADS streams, by protocol variant',
      labelNames: ['stream'],
      registers,
    });
    this.pushes = new Counter({
      name: 'skewless_xds_pushes_total',
      help: 'Discovery responses written, by resource type',
      labelNames: ['type'],
      registers,
    });
    this.pushLatency = new Histogram({
      name: 'skewless_xds_push_latency_seconds',
      help: 'From an endpoint change accepted by the cache to the response carrying it written to a stream',
      labelNames: ['type'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.nacks = new Counter({
      name: 'skewless_xds_nacks_total',
      help: 'Responses rejected by clients (NACK), by resource type',
      labelNames: ['type'],
      registers,
    });
    this.endpoints = new Gauge({
      name: 'skewless_xds_cluster_endpoints',
      help: 'Endpoints served per cluster, by health',
      labelNames: ['cluster', 'health'],
      registers,
    });
    this.resources = new Gauge({
      name: 'skewless_xds_resources',
      help: 'Resources in the cache, by type',
      labelNames: ['type'],
      registers,
    });
    for (const stream of ['sotw', 'delta'] as const) this.connected.set({ stream }, 0);
  }

  streamOpened(stream: StreamKind): void {
    this.connected.inc({ stream });
  }

  streamClosed(stream: StreamKind): void {
    this.connected.dec({ stream });
  }

  /** `latencyMs` is set when the response carries a change the cache accepted at a known time. */
  pushed(type: TypeLabel, latencyMs: number | undefined): void {
    this.pushes.inc({ type });
    if (latencyMs !== undefined) this.pushLatency.observe({ type }, Math.max(0, latencyMs) / 1000);
  }

  nacked(type: TypeLabel): void {
    this.nacks.inc({ type });
  }

  setResourceCount(type: TypeLabel, count: number): void {
    this.resources.set({ type }, count);
  }

  /** Replaces the per-cluster endpoint gauges, so a removed cluster or health state disappears. */
  setEndpoints(services: readonly ServicePortEndpoints[]): void {
    this.endpoints.reset();
    for (const service of services) {
      const counts = { HEALTHY: 0, DRAINING: 0, UNHEALTHY: 0 };
      for (const endpoint of service.endpoints) counts[endpoint.health] += 1;
      for (const [health, count] of Object.entries(counts))
        this.endpoints.set({ cluster: service.name, health }, count);
    }
  }
}
