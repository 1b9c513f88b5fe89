/**
 * Optional prom-client metrics. Values are read from the live balancers at scrape time, so the
 * pick path pays nothing for them.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { allAdsClients } from './ads-client-pool.ts';
import { type EndpointSnapshot, liveBalancers } from './balancer-registry.ts';

const registered = new WeakSet<Registry>();

export function registerMetrics(registry: Registry): void {
  if (registered.has(registry)) return;
  registered.add(registry);
  perEndpoint(
    registry,
    Counter,
    'skewless_client_picks_total',
    'Calls routed to each endpoint by this process',
    (e) => e.picks,
  );
  perEndpoint(registry, Gauge, 'skewless_client_in_flight', 'Calls in flight per endpoint', (e) => e.inFlight);
  perEndpoint(
    registry,
    Counter,
    'skewless_client_ejections_total',
    'Outlier ejections per endpoint',
    (e) => e.ejections,
  );
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

/** A metric with one series per endpoint of every live balancer, read from its snapshot at scrape time. */
function perEndpoint(
  registry: Registry,
  Metric: typeof Counter | typeof Gauge,
  name: string,
  help: string,
  value: (endpoint: EndpointSnapshot) => number,
): void {
  new Metric({
    name,
    help,
    labelNames: ['service', 'endpoint', 'zone'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of liveBalancers) {
        const s = b.snapshot();
        for (const e of s.endpoints) this.inc({ service: s.service, endpoint: e.address, zone: e.zone }, value(e));
      }
    },
  });
}
