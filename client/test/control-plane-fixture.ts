/** The real control plane on loopback, plus our client registered against it. */
import * as grpc from '@grpc/grpc-js';
import { createXdsServer, type XdsServer } from '@skewless/control-plane';
import { createLogger, type EchoClient, echoGrpc } from '@skewless/shared';
import type { ClientConfigInput } from '../src/config-client.ts';
import { debugSnapshot, type Registration, register, ZONE_CHANNEL_OPTION } from '../src/index.ts';
import { type Backend, serviceEndpoints, startZonedBackends } from './backends.ts';
import { waitFor } from './wait-for.ts';

export const silentLogger = createLogger('test', process.env.SKEWLESS_LOG_LEVEL ?? 'silent');

export async function startControlPlane(address = '127.0.0.1:0'): Promise<{ server: XdsServer; port: number }> {
  const server = createXdsServer({ logger: silentLogger, batchWindowMs: 5 });
  const port = await server.bind(address);
  return { server, port };
}

export function registerClient(port: number, extra: Partial<ClientConfigInput> = {}): Registration {
  return register(
    { controlPlane: `127.0.0.1:${port}`, xds: { initialBackoffMs: 50, maxBackoffMs: 500 }, ...extra },
    { logger: silentLogger },
  );
}

/** One long-lived channel per simulated client, each in its own zone. */
export function skewlessClients(zones: readonly string[], target = 'skewless:///default/backend:grpc'): EchoClient[] {
  const { Client } = echoGrpc();
  return zones.map(
    (zone) =>
      new Client(target, grpc.credentials.createInsecure(), {
        [ZONE_CHANNEL_OPTION]: zone,
        // Separate connections per simulated client, as separate processes would have.
        'grpc.use_local_subchannel_pool': 1,
      }),
  );
}

/** Endpoints (not removing) each live balancer currently has. */
export function balancerEndpointCounts(): number[] {
  return debugSnapshot().balancers.map((b) => b.endpoints.filter((e) => !e.removing).length);
}

/** Whether every live balancer has `n` endpoints, all connected. */
export function allBalancersReady(channels: number, n: number): boolean {
  const balancers = debugSnapshot().balancers;
  return (
    balancers.length === channels &&
    balancers.every((b) => b.endpoints.length === n && b.endpoints.every((e) => e.connectivity === 'READY'))
  );
}

/** Zoned backends behind the real control plane, and our client registered against it. */
export interface Fleet {
  readonly backends: Backend[];
  readonly server: XdsServer;
  readonly registration: Registration;
  close(): Promise<void>;
}

/** 3 zones × `perZone` backends, all published to the control plane as one service. */
export async function startFleet(perZone: number, clientConfig: Partial<ClientConfigInput> = {}): Promise<Fleet> {
  const backends = await startZonedBackends(perZone);
  const { server, port } = await startControlPlane();
  server.sink.replaceAll([serviceEndpoints(backends)]);
  const registration = registerClient(port, clientConfig);
  return {
    backends,
    server,
    registration,
    close: async () => {
      registration.close();
      await server.close(100);
      await Promise.all(backends.map((b) => b.close()));
    },
  };
}

/** One channel per zone in `zones`, returned once every balancer has `endpoints` READY endpoints. */
export async function connectedClients(zones: readonly string[], endpoints: number): Promise<EchoClient[]> {
  const clients = skewlessClients(zones);
  await waitFor(`every channel connected to ${endpoints} endpoints`, () => {
    for (const c of clients) c.getChannel().getConnectivityState(true);
    return allBalancersReady(clients.length, endpoints);
  });
  return clients;
}
