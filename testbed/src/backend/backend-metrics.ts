/**
 * Prometheus metrics of one backend on its own Registry (several backends share a test process),
 * every series labelled with the pod, zone and node that served it, plus the default process metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface BackendIdentity {
  readonly pod: string;
  readonly zone: string;
  readonly node: string;
}

export class BackendMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'code'>;
  private readonly inFlight: Gauge<'method'>;
  private readonly duration: Histogram<'method'>;

  constructor(identity: BackendIdentity, methods: readonly string[]) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ pod: identity.pod, zone: identity.zone, node: identity.node });
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'skewless_backend_requests_total',
      help: 'Calls finished, by method and gRPC status name (injected errors carry their configured code)',
      labelNames: ['method', 'code'],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'skewless_backend_in_flight',
      help: 'Calls being served now, by method',
      labelNames: ['method'],
      registers,
    });
    this.duration = new Histogram({
      name: 'skewless_backend_request_duration_seconds',
      help: 'From a call arriving to its status, injected latency and CPU work included, by method',
      labelNames: ['method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    // Series exist from the start, so a dashboard shows 0 instead of nothing before the first call.
    for (const method of methods) {
      this.inFlight.set({ method }, 0);
      this.requests.inc({ method, code: 'OK' }, 0);
    }
  }

  /** Counts a call as in flight until the returned function records its status; call that once. */
  callStarted(method: string): (code: string) => void {
    this.inFlight.inc({ method });
    const stopTimer = this.duration.startTimer({ method });
    return (code) => {
      this.inFlight.dec({ method });
      stopTimer();
      this.requests.inc({ method, code });
    };
  }
}
