/**
 * Container probes with kubelet semantics for the local node agent: one attempt (`runProbeOnce`) and
 * the per-container prober worker (`ProbeWorker`) that turns attempts into readiness, liveness and
 * startup results through kubelet's consecutive-result thresholds. The agent runs in the node's
 * network namespace, so pod IPs are dialled directly.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { IntOrString, V1HTTPGetAction, V1Probe } from '@kubernetes/client-node';
import { formatProblemList, type Problem } from '@skewless/shared';
import { service as healthService } from 'grpc-health-check';

export interface ProbeOutcome {
  readonly ok: boolean;
  readonly message: string;
}

export type ProbeKind = 'readiness' | 'liveness' | 'startup';

/** Sent as User-Agent (HTTP) and primary user agent (gRPC) unless the probe sets its own, like kubelet's `kube-probe/<version>`. */
const USER_AGENT = 'kube-probe/skewless';

export const EXEC_UNSUPPORTED = 'exec probes are not supported by the local node agent';

interface HealthCheckResponse {
  status?: string;
}

/**
 * One gRPC Health client per target, kept across attempts so probing every second does not dial every
 * second. A client whose call failed is closed and dropped: grpc-js would otherwise hold the channel in
 * reconnect backoff (up to minutes) and keep failing probes after the pod came up.
 */
export class HealthClients {
  private readonly clients = new Map<string, grpc.Client>();

  get(target: string): grpc.Client {
    let client = this.clients.get(target);
    if (!client) {
      client = new grpc.Client(target, grpc.credentials.createInsecure(), {
        'grpc.primary_user_agent': USER_AGENT,
        'grpc.enable_retries': 0,
      });
      this.clients.set(target, client);
    }
    return client;
  }

  drop(target: string): void {
    this.clients.get(target)?.close();
    this.clients.delete(target);
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

export interface ProbeOnceOptions {
  /** Reuse channels across attempts; without it the attempt opens and closes its own. */
  readonly healthClients?: HealthClients;
}

/**
 * One probe attempt against `podIP`, finished within `timeoutSeconds` (default 1). Never rejects: every
 * problem, including an invalid probe, is a failed outcome whose message says why.
 */
export async function runProbeOnce(
  probe: V1Probe,
  podIP: string,
  namedPorts: ReadonlyMap<string, number>,
  options: ProbeOnceOptions = {},
): Promise<ProbeOutcome> {
  const handlers = (['exec', 'httpGet', 'tcpSocket', 'grpc'] as const).filter((name) => probe[name] !== undefined);
  if (handlers.length === 0) {
    return { ok: false, message: 'probe has no handler: set one of exec, httpGet, tcpSocket or grpc' };
  }
  if (handlers.length > 1) {
    return { ok: false, message: `probe may set only one handler, got ${handlers.join(' and ')}` };
  }
  const timeoutMs = Math.max(1, probe.timeoutSeconds ?? 1) * 1000;
  try {
    if (probe.exec) return { ok: false, message: EXEC_UNSUPPORTED };
    if (probe.httpGet) {
      const port = resolvePort(probe.httpGet.port, namedPorts);
      return await httpGet(probe.httpGet, probe.httpGet.host || podIP, port, timeoutMs);
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port, namedPorts);
      return await tcpConnect(probe.tcpSocket.host || podIP, port, timeoutMs);
    }
    const action = probe.grpc!;
    const port = resolvePort(action.port, namedPorts);
    const clients = options.healthClients ?? new HealthClients();
    try {
      return await grpcHealthCheck(clients, podIP, port, action.service ?? '', timeoutMs);
    } finally {
      if (!options.healthClients) clients.close();
    }
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

/** kubelet's `extractPort`: a number, a container port name, or a numeric string; 1..65535. */
function resolvePort(port: IntOrString, namedPorts: ReadonlyMap<string, number>): number {
  let resolved: number;
  if (typeof port === 'number') resolved = port;
  else if (namedPorts.has(port)) resolved = namedPorts.get(port)!;
  else if (/^\d+$/.test(port)) resolved = Number(port);
  else throw new Error(`port "${port}" is not a named port of the container`);
  if (!Number.isInteger(resolved) || resolved < 1 || resolved > 65535) {
    throw new Error(`port ${JSON.stringify(port)} resolves to ${resolved}, outside 1..65535`);
  }
  return resolved;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function httpHeaders(action: V1HTTPGetAction): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { 'user-agent': USER_AGENT, accept: '*/*' };
  const given = new Map<string, string[]>();
  for (const { name, value } of action.httpHeaders ?? []) {
    const key = name.toLowerCase();
    given.set(key, [...(given.get(key) ?? []), value]);
  }
  // A probe's header replaces our default of the same name; repeated names are all sent, as kubelet does.
  for (const [key, values] of given) headers[key] = values.length === 1 ? values[0]! : values;
  return headers;
}

/**
 * kubelet's HTTP probe: 200 ≤ status < 400 passes. Redirects are not followed; a 3xx passes, which is
 * what kubelet concludes for a redirect to another host and never a false failure. HTTPS skips
 * certificate verification like kubelet. No keep-alive: each attempt is its own connection.
 */
function httpGet(action: V1HTTPGetAction, host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  const scheme = (action.scheme ?? 'HTTP').toUpperCase();
  if (scheme !== 'HTTP' && scheme !== 'HTTPS') {
    return Promise.resolve({ ok: false, message: `unsupported scheme ${action.scheme}: use HTTP or HTTPS` });
  }
  const rawPath = action.path ?? '/';
  const path = rawPath.startsWith('/') ? rawPath : `/${rawPath}`;
  const url = `${scheme.toLowerCase()}://${hostPort(host, port)}${path}`;
  return new Promise((resolve) => {
    const request = (scheme === 'HTTPS' ? https : http).request({
      host,
      port,
      path,
      method: 'GET',
      headers: httpHeaders(action),
      agent: false,
      ...(scheme === 'HTTPS' ? { rejectUnauthorized: false } : {}),
    });
    const timer = setTimeout(() => request.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    request.once('response', (response) => {
      clearTimeout(timer);
      response.destroy();
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 400) {
        const moved = status >= 300 && response.headers.location ? ` (redirect to ${response.headers.location})` : '';
        resolve({ ok: true, message: `GET ${url}: HTTP ${status}${moved}` });
      } else {
        resolve({ ok: false, message: `GET ${url}: HTTP probe failed with statuscode: ${status}` });
      }
    });
    request.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `GET ${url}: ${error.message}` });
    });
    request.end();
  });
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  const target = hostPort(host, port);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (outcome: ProbeOutcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ ok: false, message: `dial tcp ${target}: timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once('connect', () => finish({ ok: true, message: `dial tcp ${target}: connected` }));
    socket.once('error', (error) => finish({ ok: false, message: `dial tcp ${target}: ${error.message}` }));
  });
}

function grpcHealthCheck(
  clients: HealthClients,
  host: string,
  port: number,
  service: string,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  const target = hostPort(host, port);
  const check = healthService.Check!;
  const client = clients.get(target);
  return new Promise((resolve) => {
    client.makeUnaryRequest<{ service: string }, HealthCheckResponse>(
      check.path,
      check.requestSerialize,
      check.responseDeserialize as (bytes: Buffer) => HealthCheckResponse,
      { service },
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error, response) => {
        if (error) {
          clients.drop(target);
          const why = error.code === grpc.status.DEADLINE_EXCEEDED ? `timeout after ${timeoutMs} ms: ` : '';
          resolve({ ok: false, message: `gRPC health check of ${target} failed: ${why}${error.message}` });
          return;
        }
        const status = response?.status ?? 'UNKNOWN';
        resolve(
          status === 'SERVING'
            ? { ok: true, message: `gRPC health of ${target} service "${service}": SERVING` }
            : {
                ok: false,
                message: `gRPC health of ${target} service "${service}": unhealthy (responded with ${status})`,
              },
        );
      },
    );
  });
}

/** Time for the worker; tests pass a manual one. Milliseconds, monotonic; only differences matter. */
export interface ProbeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realProbeClock: ProbeClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface ProbeResult {
  readonly kind: ProbeKind;
  readonly healthy: boolean;
  readonly message: string;
  /** How many attempts in a row had this result when it was reported. */
  readonly consecutive: number;
}

export interface ProbeAttempt extends ProbeOutcome {
  readonly kind: ProbeKind;
}

export interface ProbeWorkerOptions {
  readonly kind: ProbeKind;
  readonly probe: V1Probe;
  readonly podIP: string;
  /** The container's ports by name, for `httpGet.port` / `tcpSocket.port` / `grpc.port` given by name. */
  readonly namedPorts: ReadonlyMap<string, number>;
  /** Called on every transition and once for the first determined state; never for a repeat. */
  readonly onResult: (result: ProbeResult) => void;
  /** Called after every attempt, before any `onResult` it causes: kubelet records an event per failure. */
  readonly onAttempt?: (attempt: ProbeAttempt) => void;
  /**
   * Probe every this many milliseconds instead of `periodSeconds`, below kubelet's 1 s floor if asked:
   * the agent uses it for readiness while a pod starts, and tests to keep suites fast. Thresholds still
   * count attempts.
   */
  readonly periodOverrideMs?: number;
  readonly clock?: ProbeClock;
}

interface ProbeTiming {
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

type ProbeNumberField =
  | 'initialDelaySeconds'
  | 'periodSeconds'
  | 'successThreshold'
  | 'failureThreshold'
  | 'timeoutSeconds';

/** kubelet's defaults and the API server's validation of a probe, all problems at once. */
function probeTiming(kind: ProbeKind, probe: V1Probe, periodOverrideMs?: number): ProbeTiming | Problem[] {
  const problems: Problem[] = [];
  const field = (name: ProbeNumberField, fallback: number, min: number): number => {
    const value = probe[name] ?? fallback;
    if (!Number.isInteger(value) || value < min) {
      problems.push({ path: `${kind}Probe.${name}`, message: `must be an integer ≥ ${min}, got ${String(value)}` });
    }
    return value;
  };
  const initialDelaySeconds = field('initialDelaySeconds', 0, 0);
  const periodSeconds = field('periodSeconds', 10, 1);
  const successThreshold = field('successThreshold', 1, 1);
  const failureThreshold = field('failureThreshold', 3, 1);
  field('timeoutSeconds', 1, 1);
  if (kind !== 'readiness' && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    problems.push({ path: `${kind}Probe.successThreshold`, message: `must be 1 for ${kind} probes` });
  }
  if (periodOverrideMs !== undefined && !(periodOverrideMs > 0)) {
    problems.push({ path: 'periodOverrideMs', message: `must be > 0, got ${periodOverrideMs}` });
  }
  if (problems.length > 0) return problems;
  return {
    initialDelayMs: initialDelaySeconds * 1000,
    periodMs: periodOverrideMs ?? periodSeconds * 1000,
    successThreshold,
    failureThreshold,
  };
}

type ProbeState = 'unknown' | 'healthy' | 'unhealthy';

/**
 * kubelet's prober worker for one probe of one container. Waits `initialDelaySeconds`, then probes
 * every period; attempts never overlap (a slow attempt delays the next, which then starts at once).
 * `successThreshold` successes in a row make it healthy, `failureThreshold` failures unhealthy.
 *
 * Initial states follow kubelet: readiness starts not ready (reported once the first threshold is
 * met, even if that is "not ready"); liveness starts assumed healthy, so only its failure is reported;
 * startup starts unknown. Once liveness or startup is reported unhealthy the worker stops probing (kubelet
 * holds it until the container restarts: start a new worker for the new container), and once startup is
 * reported healthy it stops too (the container has started; liveness and readiness take over).
 */
export class ProbeWorker {
  private readonly options: ProbeWorkerOptions;
  private readonly timing: ProbeTiming;
  private readonly clock: ProbeClock;
  private readonly healthClients = new HealthClients();
  private state: ProbeState;
  private lastOk: boolean | undefined;
  private run = 0;
  private timer: unknown;
  private inFlight: Promise<void> | undefined;
  private started = false;
  private stopped = false;

  /** Throws with every problem listed when the probe is invalid for its kind. */
  constructor(options: ProbeWorkerOptions) {
    const timing = probeTiming(options.kind, options.probe, options.periodOverrideMs);
    if (Array.isArray(timing)) throw new Error(`invalid ${options.kind} probe:\n${formatProblemList(timing)}`);
    this.options = options;
    this.timing = timing;
    this.clock = options.clock ?? realProbeClock;
    this.state = options.kind === 'liveness' ? 'healthy' : 'unknown';
  }

  /** Readiness: false until reported ready. Liveness: true until reported failing. Startup: true once started. */
  get healthy(): boolean {
    return this.state === 'healthy';
  }

  start(): void {
    if (this.started) throw new Error(`${this.options.kind} probe worker already started`);
    this.started = true;
    this.schedule(this.timing.initialDelayMs);
  }

  /** Cancels the next attempt, waits for one in flight (its result is discarded) and closes gRPC channels. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    this.healthClients.close();
  }

  private schedule(delayMs: number): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.attempt().finally(() => {
        this.inFlight = undefined;
      });
    }, delayMs);
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const startedAtMs = this.clock.now();
    const { probe, podIP, namedPorts, kind } = this.options;
    const outcome = await runProbeOnce(probe, podIP, namedPorts, { healthClients: this.healthClients });
    if (this.stopped) return;
    this.options.onAttempt?.({ kind, ...outcome });
    if (this.record(outcome)) {
      this.schedule(Math.max(0, startedAtMs + this.timing.periodMs - this.clock.now()));
    }
  }

  /** kubelet's `doProbe` bookkeeping; returns whether to keep probing. */
  private record(outcome: ProbeOutcome): boolean {
    if (this.lastOk === outcome.ok) this.run += 1;
    else {
      this.lastOk = outcome.ok;
      this.run = 1;
    }
    const threshold = outcome.ok ? this.timing.successThreshold : this.timing.failureThreshold;
    if (this.run < threshold) return true;
    const next: ProbeState = outcome.ok ? 'healthy' : 'unhealthy';
    if (next === this.state) return true;
    this.state = next;
    const { kind } = this.options;
    this.options.onResult({ kind, healthy: outcome.ok, message: outcome.message, consecutive: this.run });
    if (kind === 'readiness') return true;
    return false;
  }
}
