/**
 * Real gRPC echo backends on 127.0.0.1 standing for pods (the testbed's echo server), with a call
 * count the tests can reset between phases.
 */
import type { EndpointHealth, ServicePortEndpoints } from '@skewless/control-plane';
import { startEchoServer } from '@skewless/testbed';

export interface Backend {
  readonly pod: string;
  readonly zone: string;
  readonly port: number;
  /** Calls served since the last `resetCounts`. */
  readonly calls: number;
  resetCalls(): void;
  close(): Promise<void>;
}

export async function startBackend(pod: string, zone: string): Promise<Backend> {
  const server = await startEchoServer({ pod, zone });
  let base = 0;
  return {
    pod,
    zone,
    port: server.port,
    get calls() {
      return server.calls() - base;
    },
    resetCalls: () => {
      base = server.calls();
    },
    close: () => server.drain(),
  };
}

/** 3 zones × n backends: a-0, a-1, ..., c-(n-1). */
export async function startZonedBackends(perZone: number, zones = ['a', 'b', 'c']): Promise<Backend[]> {
  const out: Backend[] = [];
  for (const zone of zones) for (let i = 0; i < perZone; i++) out.push(await startBackend(`${zone}-${i}`, zone));
  return out;
}

export const SERVICE = { namespace: 'default', service: 'backend', port: 'grpc' } as const;
export const SERVICE_NAME = 'default/backend:grpc';

/** The control plane's model of our backends, as discovery would publish it. */
export function serviceEndpoints(
  backends: readonly Backend[],
  health: Record<string, EndpointHealth> = {},
): ServicePortEndpoints {
  return {
    key: SERVICE,
    name: SERVICE_NAME,
    servicePort: 50051,
    endpoints: backends
      .map((b) => ({
        address: '127.0.0.1',
        port: b.port,
        health: health[b.pod] ?? 'HEALTHY',
        zone: b.zone,
        pod: b.pod,
        podNamespace: 'default',
        weight: 1,
      }))
      .sort((x, y) => x.port - y.port),
  };
}

export function resetCounts(backends: readonly Backend[]): void {
  for (const b of backends) b.resetCalls();
}

export function maxOverMean(counts: readonly number[]): number {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return Math.max(...counts) / mean;
}
