/**
 * Real gRPC echo backends on 127.0.0.1 standing for pods (the testbed's echo server), each with its
 * own pod, zone and node name in every reply, and the targets the non-skewless modes use for them.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { type StartedEchoServer, startEchoServer } from '@skewless/testbed';

export interface EchoPods {
  readonly servers: readonly StartedEchoServer[];
  readonly pods: readonly string[];
  /** `ipv4:127.0.0.1:p1,127.0.0.1:p2,…` — every pod, for pick-first and round-robin. */
  readonly ipv4Target: string;
  close(): void;
}

/** pod-a, pod-b, pod-c in zones a, b, c on nodes node-a, node-b, node-c. */
export async function startEchoPods(zones: readonly string[] = ['a', 'b', 'c']): Promise<EchoPods> {
  const servers = await Promise.all(zones.map((z) => startEchoServer({ pod: `pod-${z}`, zone: z, node: `node-${z}` })));
  return {
    servers,
    pods: servers.map((s) => s.pod),
    ipv4Target: `ipv4:${servers.map((s) => s.address).join(',')}`,
    close: () => {
      for (const s of servers) s.close();
    },
  };
}

/** A port nothing listens on (bound, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A TCP relay in front of one backend that counts the connections clients open: stands for a
 * ClusterIP, where what matters is how many TCP connections the client really makes.
 */
export interface ConnectionCounter {
  readonly address: string;
  readonly connections: () => number;
  close(): Promise<void>;
}

export async function startConnectionCounter(backend: StartedEchoServer): Promise<ConnectionCounter> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const relay: Server = createServer((client) => {
    connections += 1;
    const upstream = connect(backend.port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const { port } = relay.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}
