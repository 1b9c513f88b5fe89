/**
 * Optional prom-client metrics. Values are read from the live balancers at scrape time, so the
 * pick path pays nothing for them.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { allAdsClients } from './ads-client-pool.ts';
import { liveBalancers } from './balancer-registry.ts';

const registered = new WeakSet<Registry>();

export function registerMetrics(registry: Registry): void {
  if (registered.has(registry)) return;
  registered.add(registry);
  const endpointLabels = ['service', 'endpoint', 'zone'] as const;
  new Counter({
    name: 'skewless_client_picks_total',
    help: 'Calls routed to each endpoint by this process',
    labelNames: endpointLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of liveBalancers) {
        const s = b.snapshot();
        for (const e of s.endpoints) this.inc({ service: s.service, endpoint: e.address, zone: e.zone }, e.picks);
      }
    },
  });
  new Gauge({
    name: 'skewless_client_in_flight',
    help: 'Calls in flight per endpoint',
    labelNames: endpointLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of liveBalancers) {
        const s = b.snapshot();
        for (const e of s.endpoints) this.set({ service: s.service, endpoint: e.address, zone: e.zone }, e.inFlight);
      }
    },
  });
  new Gauge({
    name: 'skewless_client_endpoints',
    help: 'Endpoints per service by state (healthy, draining, ejected, ...)',
    labelNames: ['service', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of liveBalancers) {
        const s = b.snapshot();
        for (const e of s.endpoints) {
          const state = e.removing ? 'removing' : e.ejected ? 'ejected' : e.health.toLowerCase();
          this.inc({ service: s.service, state });
        }
      }
    },
  });
  new Counter({
    name: 'skewless_client_ejections_total',
    help: 'Outlier ejections per endpoint',
    labelNames: endpointLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of liveBalancers) {
        const s = b.snapshot();
        for (const e of s.endpoints) this.inc({ service: s.service, endpoint: e.address, zone: e.zone }, e.ejections);
      }
    },
  });
  new Gauge({
    name: 'skewless_client_xds_connected',
    help: '1 while the ADS stream to the control plane is up',
    labelNames: ['control_plane'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of allAdsClients()) this.set({ control_plane: c.status().address }, c.status().connected ? 1 : 0);
    },
  });
  new Counter({
    name: 'skewless_client_xds_nacks_total',
    help: 'EDS updates rejected as invalid',
    labelNames: ['control_plane'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of allAdsClients()) this.inc({ control_plane: c.status().address }, c.status().nacks);
    },
  });
}
