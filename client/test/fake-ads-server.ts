/**
 * A scripted ADS server on loopback, for the one thing the real control plane refuses to do:
 * send an invalid ClusterLoadAssignment. It records every request so tests can check ACKs/NACKs.
 */
import * as grpc from '@grpc/grpc-js';
import {
  adsGrpc,
  type ClusterLoadAssignment,
  type DiscoveryRequest__Output,
  type DiscoveryResponse,
  packAny,
  TYPE_URL,
} from '@skewless/shared';

export interface FakeAdsServer {
  readonly port: number;
  readonly requests: DiscoveryRequest__Output[];
  /** Sends one response with these assignments on every open stream. */
  push(version: string, nonce: string, assignments: readonly ClusterLoadAssignment[]): void;
  close(): Promise<void>;
}

export async function startFakeAdsServer(): Promise<FakeAdsServer> {
  const requests: DiscoveryRequest__Output[] = [];
  const streams = new Set<grpc.ServerDuplexStream<DiscoveryRequest__Output, DiscoveryResponse>>();
  const server = new grpc.Server();
  const definition = adsGrpc().envoy.service.discovery.v3.AggregatedDiscoveryService.service;
  server.addService(definition, {
    StreamAggregatedResources(call: grpc.ServerDuplexStream<DiscoveryRequest__Output, DiscoveryResponse>) {
      streams.add(call);
      call.on('data', (request: DiscoveryRequest__Output) => requests.push(request));
      call.on('end', () => {
        streams.delete(call);
        call.end();
      });
      call.on('error', () => streams.delete(call));
    },
    DeltaAggregatedResources(call: grpc.ServerDuplexStream<unknown, unknown>) {
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'fake: SotW only' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    port,
    requests,
    push(version, nonce, assignments) {
      const response: DiscoveryResponse = {
        version_info: version,
        nonce,
        type_url: TYPE_URL.clusterLoadAssignment,
        resources: assignments.map((a) => packAny(TYPE_URL.clusterLoadAssignment, a)),
      };
      for (const s of streams) s.write(response);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 200).unref();
      }),
  };
}
