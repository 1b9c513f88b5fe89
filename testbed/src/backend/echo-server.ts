/**
 * A real gRPC echo backend on a real socket, identifying itself in every reply. Tests start several
 * on 127.0.0.1 to stand for pods; the instrumented `skewless backend` (issue #4) builds on it.
 */
import * as grpc from '@grpc/grpc-js';
import { type EchoReply, type EchoRequest, echoGrpc, type StreamEchoRequest } from '@skewless/shared';

export interface EchoServerOptions {
  pod: string;
  zone?: string;
  node?: string;
  /** Listen address; port 0 picks a free port. Default 127.0.0.1:0. */
  address?: string;
}

export interface StartedEchoServer {
  readonly pod: string;
  readonly zone: string;
  readonly port: number;
  /** `127.0.0.1:<port>` (or the given host). */
  readonly address: string;
  /** Calls answered so far (unary and streams). */
  readonly calls: () => number;
  /** Calls currently being served. */
  readonly inFlight: () => number;
  /** Stops accepting calls, lets in-flight calls finish (GOAWAY to clients), then closes. */
  drain(): Promise<void>;
  /** Closes at once, cancelling in-flight calls. */
  close(): void;
}

export async function startEchoServer(options: EchoServerOptions): Promise<StartedEchoServer> {
  const zone = options.zone ?? '';
  const identity = { pod: options.pod, zone, node: options.node ?? '' };
  let calls = 0;
  let inFlight = 0;
  const server = new grpc.Server();
  server.addService(echoGrpc().service, {
    Echo(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
      calls += 1;
      inFlight += 1;
      const reply = () => {
        inFlight -= 1;
        callback(null, { message: call.request.message ?? '', ...identity });
      };
      const delayMs = call.request.delay_ms ?? 0;
      if (delayMs > 0) setTimeout(reply, delayMs);
      else reply();
    },
    StreamEcho(call: grpc.ServerWritableStream<StreamEchoRequest, EchoReply>) {
      calls += 1;
      inFlight += 1;
      const count = call.request.count ?? 1;
      const intervalMs = call.request.interval_ms ?? 0;
      let sent = 0;
      const next = () => {
        if (sent >= count || call.cancelled) {
          inFlight -= 1;
          call.end();
          return;
        }
        sent += 1;
        call.write({ message: call.request.message ?? '', ...identity });
        setTimeout(next, intervalMs);
      };
      next();
    },
  });
  const host = options.address ?? '127.0.0.1:0';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(host, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const hostOnly = host.slice(0, host.lastIndexOf(':'));
  return {
    pod: options.pod,
    zone,
    port,
    address: `${hostOnly}:${port}`,
    calls: () => calls,
    inFlight: () => inFlight,
    drain: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    close: () => server.forceShutdown(),
  };
}
