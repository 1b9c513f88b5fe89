/**
 * The ADS gRPC server: binds `envoy.service.discovery.v3.AggregatedDiscoveryService` (SotW and
 * delta) to streams reading one XdsCacheView. `createXdsServer` wires it to a new cache and is the
 * control plane's xDS entry point; `serveAds` serves an existing cache (tests, embedding).
 */
import * as grpc from '@grpc/grpc-js';
import {
  adsGrpc,
  type DeltaDiscoveryRequest__Output,
  type DiscoveryRequest__Output,
  type Logger,
} from '@skewless/shared';
import { Registry } from 'prom-client';
import { XdsMetrics } from './metrics.ts';
import type { EndpointSink } from './model.ts';
import { type IngressConfig, validateIngressConfig } from './translate-ingress.ts';
import { realScheduler, XdsCache, type XdsCacheOptions, type XdsCacheView } from './xds-cache.ts';
import type { ResolveClientZone } from './xds-client-info.ts';
import type { ManagedStream, StreamDeps } from './xds-stream-common.ts';
import { DeltaStream } from './xds-stream-delta.ts';
import { SotwStream } from './xds-stream-sotw.ts';

export interface XdsServerOptions {
  readonly logger: Logger;
  /** Endpoint changes within this window become one push (default 20 ms). */
  readonly batchWindowMs?: number;
  /** Serve an Envoy ingress Listener/RouteConfiguration as well. */
  readonly ingress?: IngressConfig;
  /** Where to register metrics; default a private registry. */
  readonly metrics?: Registry;
  /** Version prefix, unique per instance by default. */
  readonly versionPrefix?: string;
  /** Serve every client its own zone at priority 0 unless its node metadata opts out. */
  readonly zoneAffinityByDefault?: boolean;
  /** Suffix of the proxyless Listener aliases `<svc>.<ns>.svc.<clusterDomain>:<port>` (default `cluster.local`). */
  readonly clusterDomain?: string;
  /**
   * Zone of a client that sends no `node.locality.zone`, from its pod identity (node metadata
   * POD_NAME/POD_NAMESPACE, else a node.id `<namespace>/<pod>`). Only this function crosses from
   * discovery into the protocol layer. Tried at the first request, again at every later request while
   * unknown, and on `refreshClientZones()`.
   */
  readonly resolveClientZone?: ResolveClientZone;
  /** Fleet-share settling, hysteresis and push timing (xds-client-shares.ts; defaults in the README). */
  readonly clientShares?: XdsCacheOptions['clientShares'];
}

export interface AdsServer {
  /** Listens on `host:port` (port 0 picks one); resolves to the bound port. */
  bind(address: string): Promise<number>;
  /** Open ADS streams (SotW and delta). */
  connectedClients(): number;
  /**
   * Resolve again the zones of clients whose zone did not come from their locality (call it when
   * discovery learned Pods or Node zones); a client whose zone changes gets its assignment again.
   */
  refreshClientZones(): void;
  /** Ends every stream with UNAVAILABLE (clients reconnect elsewhere), then stops, forcing after `graceMs` (default 1000). */
  close(graceMs?: number): Promise<void>;
}

export interface XdsServer extends AdsServer {
  /** Where discovery publishes endpoints; served within the batch window. */
  readonly sink: EndpointSink;
  /** The fleet shares currently published in EDS resource `name`'s metadata (tests, debugging). */
  publishedShares(name: string): ReadonlyMap<string, number> | undefined;
}

export function createXdsServer(opts: XdsServerOptions): XdsServer {
  if (opts.ingress) {
    const problems = validateIngressConfig(opts.ingress);
    if (problems.length > 0) {
      throw new Error(`invalid ingress config: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    }
  }
  const metrics = new XdsMetrics(opts.metrics ?? new Registry());
  const cache = new XdsCache({
    logger: opts.logger,
    batchWindowMs: opts.batchWindowMs,
    ingress: opts.ingress,
    metrics,
    versionPrefix: opts.versionPrefix,
    clusterDomain: opts.clusterDomain,
    clientShares: opts.clientShares,
  });
  const ads = serveAds(cache, {
    logger: opts.logger,
    metrics,
    zoneAffinityByDefault: opts.zoneAffinityByDefault ?? false,
    resolveClientZone: opts.resolveClientZone,
  });
  return {
    sink: cache,
    publishedShares: (name) => cache.publishedShares(name),
    bind: (address) => ads.bind(address),
    connectedClients: () => ads.connectedClients(),
    refreshClientZones: () => ads.refreshClientZones(),
    close: async (graceMs) => {
      await ads.close(graceMs);
      cache.close();
    },
  };
}

export interface ServeAdsOptions {
  readonly logger: Logger;
  readonly metrics: XdsMetrics;
  readonly zoneAffinityByDefault?: boolean;
  readonly resolveClientZone?: ResolveClientZone | undefined;
  readonly now?: () => number;
}

type RawCall = grpc.ServerDuplexStream<Buffer, object>;

interface OpenStream {
  readonly call: RawCall;
  readonly stream: ManagedStream;
  close(code: grpc.status, details: string): void;
}

/** Time for the closing statuses to reach clients before connections are cut. */
const DEFAULT_CLOSE_GRACE_MS = 1000;

const SERVER_OPTIONS: grpc.ServerOptions = {
  // Find dead clients (a node that vanished without FIN) instead of holding their streams forever.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
};

export function serveAds(cache: XdsCacheView, opts: ServeAdsOptions): AdsServer {
  const logger = opts.logger;
  const deps: StreamDeps = {
    cache,
    metrics: opts.metrics,
    zoneAffinityByDefault: opts.zoneAffinityByDefault ?? false,
    now: opts.now ?? realScheduler.now,
    ...(opts.resolveClientZone ? { resolveClientZone: opts.resolveClientZone } : {}),
  };
  const streams = new Set<OpenStream>();
  const definition = adsGrpc().envoy.service.discovery.v3.AggregatedDiscoveryService.service;
  const server = new grpc.Server(SERVER_OPTIONS);

  /**
   * Requests arrive as raw bytes and are decoded here, so a malformed frame gets a clear log line
   * and closes only its own stream with INVALID_ARGUMENT.
   */
  function handle<Request>(
    kind: 'sotw' | 'delta',
    method: 'StreamAggregatedResources' | 'DeltaAggregatedResources',
    call: RawCall,
    makeStream: (
      log: Logger,
    ) => ManagedStream & { onRequest(r: Request): void; onCacheChange: Parameters<XdsCacheView['watch']>[0] },
  ): void {
    const decode = definition[method].requestDeserialize as unknown as (bytes: Buffer) => Request;
    const log = logger.child({ stream: kind, peer: call.getPeer() });
    const stream = makeStream(log);
    let open = true;
    const unwatch = cache.watch((change) => stream.onCacheChange(change));
    const cleanup = () => {
      if (!open) return;
      open = false;
      unwatch();
      stream.onClose();
      streams.delete(entry);
      opts.metrics.streamClosed(kind);
      log.debug('xds stream closed');
    };
    const entry: OpenStream = {
      call,
      stream,
      close: (code, details) => {
        cleanup();
        call.emit('error', { code, details });
      },
    };
    streams.add(entry);
    opts.metrics.streamOpened(kind);
    call.on('data', (bytes: Buffer) => {
      if (!open) return;
      let request: Request;
      try {
        request = decode(bytes);
      } catch (error) {
        log.warn({ err: String(error), bytes: bytes.length }, `malformed ${method} request; closing this stream`);
        entry.close(grpc.status.INVALID_ARGUMENT, `malformed request: ${String(error)}`);
        return;
      }
      try {
        stream.onRequest(request);
      } catch (error) {
        log.error({ err: error }, 'xds stream failed handling a request; closing this stream');
        entry.close(grpc.status.INTERNAL, 'control plane error');
      }
    });
    call.on('end', () => {
      cleanup();
      call.end();
    });
    call.on('cancelled', cleanup);
    call.on('close', cleanup);
    call.on('error', cleanup);
  }

  const send = (call: RawCall) => ({
    send: (response: object) => {
      call.write(response);
    },
  });
  server.addService(
    {
      StreamAggregatedResources: { ...definition.StreamAggregatedResources, requestDeserialize: (b: Buffer) => b },
      DeltaAggregatedResources: { ...definition.DeltaAggregatedResources, requestDeserialize: (b: Buffer) => b },
    },
    {
      StreamAggregatedResources: (call: RawCall) =>
        handle<DiscoveryRequest__Output>(
          'sotw',
          'StreamAggregatedResources',
          call,
          (log) => new SotwStream(deps, send(call), log),
        ),
      DeltaAggregatedResources: (call: RawCall) =>
        handle<DeltaDiscoveryRequest__Output>(
          'delta',
          'DeltaAggregatedResources',
          call,
          (log) => new DeltaStream(deps, send(call), log),
        ),
    },
  );

  return {
    bind: (address) =>
      new Promise<number>((resolve, reject) =>
        server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => {
          if (error) reject(error);
          else {
            logger.info({ address, port }, 'xds server listening');
            resolve(port);
          }
        }),
      ),
    connectedClients: () => streams.size,
    refreshClientZones: () => {
      for (const entry of streams) entry.stream.refreshZone();
    },
    close: (graceMs = DEFAULT_CLOSE_GRACE_MS) =>
      new Promise<void>((resolve) => {
        for (const stream of [...streams]) stream.close(grpc.status.UNAVAILABLE, 'control plane shutting down');
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
