/** The echo service every Skewless backend serves (proto/skewless/echo/v1/echo.proto). */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const ECHO_PROTO_FILE = path.join(import.meta.dirname, '../proto/skewless/echo/v1/echo.proto');
export const ECHO_SERVICE_NAME = 'skewless.echo.v1.Echo';

export interface EchoRequest {
  message?: string;
  delay_ms?: number;
}

export interface StreamEchoRequest {
  message?: string;
  count?: number;
  interval_ms?: number;
}

export interface EchoReply {
  message: string;
  pod: string;
  zone: string;
  node: string;
}

export interface EchoClient extends grpc.Client {
  Echo(
    request: EchoRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, reply?: EchoReply) => void,
  ): grpc.ClientUnaryCall;
  Echo(
    request: EchoRequest,
    callback: (error: grpc.ServiceError | null, reply?: EchoReply) => void,
  ): grpc.ClientUnaryCall;
  StreamEcho(request: StreamEchoRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<EchoReply>;
}

export type EchoClientConstructor = new (
  target: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => EchoClient;

let cached: { service: grpc.ServiceDefinition; Client: EchoClientConstructor } | undefined;

/** The loaded service: `service` for `server.addService`, `Client` for channels. */
export function echoGrpc(): { service: grpc.ServiceDefinition; Client: EchoClientConstructor } {
  if (!cached) {
    const definition = protoLoader.loadSync(ECHO_PROTO_FILE, { keepCase: true, defaults: true });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      skewless: { echo: { v1: { Echo: grpc.ServiceClientConstructor } } };
    };
    const Echo = loaded.skewless.echo.v1.Echo;
    cached = { service: Echo.service, Client: Echo as unknown as EchoClientConstructor };
  }
  return cached;
}
