/**
 * `skewless backend` (issue #4): the Echo service as a pod under test runs it. Every reply names
 * its pod, zone and node; Prometheus metrics and the gRPC health service tell how it is doing;
 * latency, CPU work, errors and a cold start are injected on demand; and SIGTERM drains it the way
 * Kubernetes expects. The CLI parses config and calls startBackend; tests start it in-process.
 *
 * Drain, in phases: `draining` (health NOT_SERVING, /readyz 503, calls still served for
 * drainDelayMs while endpoint removal propagates), `goaway` (stop listening, GOAWAY on every
 * connection, wait up to drainTimeoutMs for in-flight calls), `stopped` (calls left are cancelled).
 */
import * as grpc from '@grpc/grpc-js';
import { ECHO_SERVICE_NAME, echoGrpc, type Logger } from '@skewless/shared';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { BackendConfig } from './backend-config.ts';
import { ECHO_METHODS, type EchoMethod, echoImplementation } from './backend-echo-service.ts';
import { type FaultSettings, patchFaults, planCall, warmupExtraMs } from './backend-faults.ts';
import { startBackendHttp } from './backend-http.ts';
import { BackendMetrics } from './backend-metrics.ts';

export type BackendPhase = 'starting' | 'serving' | 'draining' | 'goaway' | 'stopped';

export interface BackendOptions {
  logger: Logger;
  /** Uniform in [0, 1), for injected errors and jitter; seed it for deterministic tests. Default Math.random. */
  random?: () => number;
  /** Milliseconds clock for the warm-up decay. Default performance.now. */
  now?: () => number;
}

export interface DrainOutcome {
  /** The drain timeout ran out and the calls still running were cancelled. */
  readonly forced: boolean;
  /** Calls still in flight when the drain ended (0 unless forced). */
  readonly inFlight: number;
}

export interface StartedBackend {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Echo calls being served now. */
  inFlight(): number;
  phase(): BackendPhase;
  /** The whole drain (delay, GOAWAY, wait, stop); calling it again returns the same drain. */
  drain(): Promise<DrainOutcome>;
  /** Stops at once, cancelling in-flight calls; ends a drain under way. */
  close(): Promise<void>;
}

/** Health is reported for the whole server ('') and for the Echo service. */
const HEALTH_SERVICES = ['', ECHO_SERVICE_NAME];

export async function startBackend(config: BackendConfig, options: BackendOptions): Promise<StartedBackend> {
  const { logger } = options;
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => performance.now());
  const identity = { pod: config.pod, zone: config.zone, node: config.node };
  const warmup = { durationMs: config.warmupMs, latencyMs: config.warmupLatencyMs };
  const metrics = new BackendMetrics(identity, ECHO_METHODS);
  // Replaced whole on PUT /fault, never mutated: a call reads one consistent snapshot.
  let faults: FaultSettings = {
    latencyMs: config.latencyMs,
    latencyJitterMs: config.latencyJitterMs,
    cpuWorkMs: config.cpuWorkMs,
    errorRate: config.errorRate,
    errorCode: config.errorCode,
  };
  let phase: BackendPhase = 'starting';
  let startedAtMs = now();
  let inFlight = 0;

  const begin = (method: EchoMethod) => {
    inFlight += 1;
    const record = metrics.callStarted(method);
    let ended = false;
    return (code: string) => {
      if (ended) return;
      ended = true;
      inFlight -= 1;
      record(code);
    };
  };

  const server = new grpc.Server();
  server.addService(
    echoGrpc().service,
    echoImplementation({
      identity,
      plan: () => planCall(faults, warmupExtraMs(warmup, now() - startedAtMs), random),
      begin,
    }),
  );
  const health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((s) => [s, 'NOT_SERVING'])));
  const watches = addHealthService(server, health);
  const setHealth = (status: ServingStatus) => {
    for (const service of HEALTH_SERVICES) health.setStatus(service, status);
  };

  const http = await startBackendHttp(config.bindAddress, config.httpPort, {
    registry: metrics.registry,
    identity,
    notReadyReason: () => (phase === 'serving' ? null : phase),
    faults: () => faults,
    patchFaults: (body) => {
      const result = patchFaults(faults, body);
      if (result.ok) {
        faults = result.settings;
        logger.info({ faults }, 'fault settings changed');
      } else {
        logger.warn({ problems: result.problems }, 'fault settings rejected, previous ones kept');
      }
      return result;
    },
  });
  let grpcPort: number;
  try {
    grpcPort = await bind(server, config.bindAddress, config.grpcPort);
  } catch (error) {
    await http.close();
    throw error;
  }
  phase = 'serving';
  startedAtMs = now();
  setHealth('SERVING');
  logger.info(
    {
      grpcPort,
      httpPort: http.port,
      ...identity,
      namespace: config.namespace,
      faults,
      warmupMs: config.warmupMs,
      warmupLatencyMs: config.warmupLatencyMs,
    },
    'serving',
  );

  const closing = new AbortController();
  let draining: Promise<DrainOutcome> | undefined;

  async function runDrain(): Promise<DrainOutcome> {
    if (closing.signal.aborted) return { forced: false, inFlight };
    phase = 'draining';
    setHealth('NOT_SERVING');
    logger.info({ phase, inFlight, drainDelayMs: config.drainDelayMs }, 'draining: NOT_SERVING, still serving calls');
    await pause(config.drainDelayMs, closing.signal);
    if (closing.signal.aborted) return { forced: true, inFlight };

    phase = 'goaway';
    const shutDown = new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true)));
    // Health Watch streams never end by themselves and would hold the drain to its timeout;
    // their clients have already seen NOT_SERVING.
    for (const watch of watches) watch.end();
    logger.info(
      { phase, inFlight, drainTimeoutMs: config.drainTimeoutMs },
      'goaway: no new calls, waiting for in-flight ones',
    );
    const timeout = new AbortController();
    const finished = await Promise.race([
      shutDown,
      pause(config.drainTimeoutMs, AbortSignal.any([timeout.signal, closing.signal])).then(() => false),
    ]);
    timeout.abort();
    if (!finished) server.forceShutdown();
    const outcome = { forced: !finished, inFlight };
    await http.close();
    phase = 'stopped';
    logger.info(
      { phase, ...outcome },
      finished ? 'done: every in-flight call finished' : 'done: cancelled calls still running',
    );
    return outcome;
  }

  return {
    grpcPort,
    httpPort: http.port,
    inFlight: () => inFlight,
    phase: () => phase,
    drain: () => {
      draining ??= runDrain();
      return draining;
    },
    close: async () => {
      closing.abort();
      setHealth('NOT_SERVING');
      server.forceShutdown();
      phase = 'stopped';
      await Promise.all([http.close(), draining]);
    },
  };
}

function bind(server: grpc.Server, host: string, port: number): Promise<number> {
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
}

type WatchCall = grpc.ServerWritableStream<unknown, unknown>;

/** Adds grpc.health.v1.Health, keeping hold of open Watch streams so the drain can end them. */
function addHealthService(server: grpc.Server, health: HealthImplementation): ReadonlySet<WatchCall> {
  const watches = new Set<WatchCall>();
  health.addToServer({
    addService: (service, implementation) => {
      const watch = implementation.watch as (call: WatchCall) => void;
      server.addService(service as unknown as grpc.ServiceDefinition, {
        ...implementation,
        watch: (call: WatchCall) => {
          watches.add(call);
          call.on('cancelled', () => watches.delete(call));
          call.on('finish', () => watches.delete(call));
          watch(call);
        },
      });
    },
  });
  return watches;
}

/** Resolves after `ms`, or at once when `signal` aborts; never rejects. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
