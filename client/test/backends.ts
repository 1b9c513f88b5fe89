/** Real gRPC echo backends on 127.0.0.1 standing for pods, counting the calls each one served. */
import * as grpc from '@grpc/grpc-js';
import type { EndpointHealth, ServicePortEndpoints } from '@skewless/control-plane';
import { type EchoReply, type EchoRequest, echoGrpc } from '@skewless/shared';

export interface Backend {
  readonly pod: string;
  readonly zone: string;
  readonly port: number;
  calls: number;
  close(): Promise<void>;
}

export async function startBackend(pod: string, zone: string): Promise<Backend> {
  const server = new grpc.Server();
  const backend = {
    pod,
    zone,
    port: 0,
    calls: 0,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService(echoGrpc().service, {
    Echo(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
      backend.calls += 1;
      const reply = () => callback(null, { message: call.request.message ?? '', pod, zone, node: '' });
      const delayMs = call.request.delay_ms ?? 0;
      if (delayMs > 0) setTimeout(reply, delayMs);
      else reply();
    },
    StreamEcho(call: grpc.ServerWritableStream<unknown, EchoReply>) {
      call.end();
    },
  });
  backend.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
  return backend;
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
  for (const b of backends) b.calls = 0;
}

export function maxOverMean(counts: readonly number[]): number {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return Math.max(...counts) / mean;
}
