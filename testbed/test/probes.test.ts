import http from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { V1Probe } from '@kubernetes/client-node';
import { HealthImplementation, type ServingStatusMap } from 'grpc-health-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freePort } from '../src/apiserver/free-port.ts';
import {
  EXEC_UNSUPPORTED,
  type ProbeAttempt,
  type ProbeClock,
  type ProbeResult,
  ProbeWorker,
  type ProbeWorkerOptions,
  runProbeOnce,
} from '../src/node-agent/probes.ts';

const POD_IP = '127.0.0.1';
const NO_PORTS: ReadonlyMap<string, number> = new Map();

/** Everything a test opened, closed after it whatever happened. */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startHealthServer(statuses: ServingStatusMap, port = 0) {
  const health = new HealthImplementation(statuses);
  const server = new grpc.Server();
  health.addToServer(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${POD_IP}:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  cleanups.push(() => server.forceShutdown());
  return { port: bound, health };
}

interface SeenRequest {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** A real HTTP server answering `status()`; `hold` keeps responses until released, to make slow attempts. */
async function startHttpServer(options: { status?: () => number; location?: string } = {}) {
  const requests: SeenRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let held: (() => void)[] | undefined;
  const server = http.createServer((request, response) => {
    requests.push({ url: request.url ?? '', headers: request.headers });
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const answer = () => {
      inFlight -= 1;
      const headers = options.location ? { location: options.location } : {};
      response.writeHead(options.status?.() ?? 200, headers).end('body');
    };
    if (held) held.push(answer);
    else answer();
  });
  const port = await listen(server);
  cleanups.push(() => closeServer(server));
  return {
    port,
    requests,
    maxInFlight: () => maxInFlight,
    hold: () => {
      held = [];
    },
    release: () => {
      const waiting = held ?? [];
      held = undefined;
      for (const answer of waiting) answer();
    },
  };
}

/** Accepts connections and never says a word: a hung pod. */
async function startStallingServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  const port = await listen(server);
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return closeServer(server);
  });
  return port;
}

/** A TCP forwarder in front of `targetPort` that counts the connections made through it. */
async function startCountingForwarder(targetPort: number) {
  let accepted = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted += 1;
    open.add(client);
    const upstream = net.connect(targetPort, POD_IP);
    client.pipe(upstream).pipe(client);
    const end = () => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  const port = await listen(server);
  cleanups.push(() => {
    for (const socket of open) socket.destroy();
    return closeServer(server);
  });
  return { port, accepted: () => accepted, open: () => open.size };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, POD_IP, () => resolve((server.address() as net.AddressInfo).port)));
}

function closeServer(server: net.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A clock the test advances by hand; due timers fire in order, synchronously. */
function manualClock() {
  let nowMs = 0;
  let nextId = 0;
  const timers = new Map<number, { atMs: number; fn: () => void }>();
  const clock: ProbeClock & { pending(): number; advance(ms: number): void } = {
    now: () => nowMs,
    setTimeout: (fn, ms) => {
      nextId += 1;
      timers.set(nextId, { atMs: nowMs + ms, fn });
      return nextId;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
    pending: () => timers.size,
    advance: (ms) => {
      const targetMs = nowMs + ms;
      for (;;) {
        const due = [...timers].filter(([, t]) => t.atMs <= targetMs).sort((a, b) => a[1].atMs - b[1].atMs)[0];
        if (!due) break;
        timers.delete(due[0]);
        nowMs = due[1].atMs;
        due[1].fn();
      }
      nowMs = targetMs;
    },
  };
  return clock;
}

/** A worker on a manual clock, with every attempt and result recorded; stopped after the test. */
function startWorker(options: Omit<ProbeWorkerOptions, 'onResult' | 'onAttempt' | 'clock'>) {
  const clock = manualClock();
  const results: ProbeResult[] = [];
  const attempts: ProbeAttempt[] = [];
  const worker = new ProbeWorker({
    ...options,
    clock,
    onResult: (result) => results.push(result),
    onAttempt: (attempt) => attempts.push(attempt),
  });
  cleanups.push(() => worker.stop());
  worker.start();
  /** Advances the clock, then waits until the attempts it started have finished. */
  const advance = async (ms: number, expectedAttempts: number) => {
    clock.advance(ms);
    await vi.waitFor(() => expect(attempts).toHaveLength(expectedAttempts));
  };
  return { worker, clock, results, attempts, advance };
}

describe('runProbeOnce: grpc', () => {
  it('passes when the server reports SERVING for the overall health ("")', async () => {
    const { port } = await startHealthServer({ '': 'SERVING' });
    const outcome = await runProbeOnce({ grpc: { port } }, POD_IP, NO_PORTS);
    expect(outcome).toEqual({ ok: true, message: expect.stringContaining('SERVING') });
  });

  it('checks the named service, not the server as a whole', async () => {
    const { port } = await startHealthServer({ '': 'NOT_SERVING', 'skewless.echo.v1.Echo': 'SERVING' });
    const outcome = await runProbeOnce({ grpc: { port, service: 'skewless.echo.v1.Echo' } }, POD_IP, NO_PORTS);
    expect(outcome.ok).toBe(true);
  });

  it('fails with the status when the service is NOT_SERVING', async () => {
    const { port } = await startHealthServer({ '': 'NOT_SERVING' });
    const outcome = await runProbeOnce({ grpc: { port } }, POD_IP, NO_PORTS);
    expect(outcome).toEqual({ ok: false, message: expect.stringContaining('NOT_SERVING') });
  });

  it('fails with the gRPC error for a service the server does not know', async () => {
    const { port } = await startHealthServer({ '': 'SERVING' });
    const outcome = await runProbeOnce({ grpc: { port, service: 'no.such.Service' } }, POD_IP, NO_PORTS);
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toMatch(/NOT_FOUND.*no\.such\.Service/);
  });

  it('fails when nothing listens on the port', async () => {
    const port = await freePort();
    const outcome = await runProbeOnce({ grpc: { port } }, POD_IP, NO_PORTS);
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toMatch(/UNAVAILABLE|ECONNREFUSED/);
  });

  it('fails within timeoutSeconds when the server accepts and never answers', async () => {
    const port = await startStallingServer();
    const startedMs = performance.now();
    const outcome = await runProbeOnce({ grpc: { port }, timeoutSeconds: 1 }, POD_IP, NO_PORTS);
    const tookMs = performance.now() - startedMs;
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toMatch(/timeout/);
    expect(tookMs).toBeLessThan(5_000);
  });
});

describe('runProbeOnce: httpGet', () => {
  it('passes on 200 and sends the path, the probe headers and a kube-probe user agent', async () => {
    const server = await startHttpServer();
    const probe: V1Probe = {
      httpGet: {
        port: server.port,
        path: '/healthz?full=1',
        httpHeaders: [
          { name: 'X-Probe', value: 'one' },
          { name: 'X-Probe', value: 'two' },
          { name: 'Host', value: 'pod.example' },
        ],
      },
    };
    const outcome = await runProbeOnce(probe, POD_IP, NO_PORTS);
    expect(outcome).toEqual({ ok: true, message: expect.stringContaining('HTTP 200') });
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.url).toBe('/healthz?full=1');
    expect(request?.headers['x-probe']).toBe('one, two');
    expect(request?.headers.host).toBe('pod.example');
    expect(request?.headers['user-agent']).toMatch(/^kube-probe\//);
  });

  it('lets the probe replace the default user agent', async () => {
    const server = await startHttpServer();
    const probe: V1Probe = { httpGet: { port: server.port, httpHeaders: [{ name: 'user-agent', value: 'mine' }] } };
    await runProbeOnce(probe, POD_IP, NO_PORTS);
    expect(server.requests[0]?.headers['user-agent']).toBe('mine');
    expect(server.requests[0]?.url).toBe('/');
  });

  it('fails on 503 and names the status code', async () => {
    const server = await startHttpServer({ status: () => 503 });
    const outcome = await runProbeOnce({ httpGet: { port: server.port, path: '/ready' } }, POD_IP, NO_PORTS);
    expect(outcome).toEqual({ ok: false, message: expect.stringContaining('statuscode: 503') });
  });

  it('passes on a redirect without following it', async () => {
    const server = await startHttpServer({ status: () => 302, location: 'http://elsewhere.invalid/' });
    const outcome = await runProbeOnce({ httpGet: { port: server.port } }, POD_IP, NO_PORTS);
    expect(outcome.ok).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it("resolves a named port through the container's ports", async () => {
    const server = await startHttpServer();
    const outcome = await runProbeOnce(
      { httpGet: { port: 'http', path: '/x' } },
      POD_IP,
      new Map([['http', server.port]]),
    );
    expect(outcome.ok).toBe(true);
    expect(server.requests.map((r) => r.url)).toEqual(['/x']);
  });

  it('fails clearly for a port name the container does not have', async () => {
    const outcome = await runProbeOnce({ httpGet: { port: 'metrics' } }, POD_IP, new Map([['http', 8080]]));
    expect(outcome).toEqual({ ok: false, message: expect.stringContaining('"metrics" is not a named port') });
  });

  it('fails within timeoutSeconds when the server accepts and never answers', async () => {
    const port = await startStallingServer();
    const startedMs = performance.now();
    const outcome = await runProbeOnce({ httpGet: { port }, timeoutSeconds: 1 }, POD_IP, NO_PORTS);
    expect(outcome).toEqual({ ok: false, message: expect.stringContaining('timed out') });
    expect(performance.now() - startedMs).toBeLessThan(5_000);
  });
});

describe('runProbeOnce: tcpSocket, exec and malformed probes', () => {
  it('passes when the port accepts a connection, by number or by name', async () => {
    const port = await startStallingServer();
    expect((await runProbeOnce({ tcpSocket: { port } }, POD_IP, NO_PORTS)).ok).toBe(true);
    expect((await runProbeOnce({ tcpSocket: { port: 'grpc' } }, POD_IP, new Map([['grpc', port]]))).ok).toBe(true);
  });

  it('fails when nothing listens on the port', async () => {
    const port = await freePort();
    const outcome = await runProbeOnce({ tcpSocket: { port } }, POD_IP, NO_PORTS);
    expect(outcome).toEqual({ ok: false, message: expect.stringContaining('ECONNREFUSED') });
  });

  it('reports exec probes as unsupported', async () => {
    const outcome = await runProbeOnce({ exec: { command: ['true'] } }, POD_IP, NO_PORTS);
    expect(outcome).toEqual({ ok: false, message: EXEC_UNSUPPORTED });
    expect(EXEC_UNSUPPORTED).toBe('exec probes are not supported by the local node agent');
  });

  it('fails a probe with no handler, or with two, saying so', async () => {
    expect((await runProbeOnce({ periodSeconds: 5 }, POD_IP, NO_PORTS)).message).toMatch(/no handler/);
    const both = await runProbeOnce({ tcpSocket: { port: 1 }, grpc: { port: 1 } }, POD_IP, NO_PORTS);
    expect(both).toEqual({ ok: false, message: expect.stringContaining('tcpSocket and grpc') });
  });

  it('rejects a port outside 1..65535', async () => {
    expect((await runProbeOnce({ tcpSocket: { port: 70_000 } }, POD_IP, NO_PORTS)).message).toMatch(/outside/);
  });
});

describe('ProbeWorker', () => {
  it('makes readiness ready after successThreshold successes and not ready after failureThreshold failures', async () => {
    let status = 200;
    const server = await startHttpServer({ status: () => status });
    const probe: V1Probe = {
      httpGet: { port: server.port },
      periodSeconds: 2,
      successThreshold: 2,
      failureThreshold: 3,
    };
    const { worker, results, advance } = startWorker({ kind: 'readiness', probe, podIP: POD_IP, namedPorts: NO_PORTS });
    expect(worker.healthy).toBe(false);

    await advance(0, 1);
    expect(results).toEqual([]);
    await advance(2000, 2);
    expect(results).toEqual([{ kind: 'readiness', healthy: true, message: expect.any(String), consecutive: 2 }]);
    expect(worker.healthy).toBe(true);

    await advance(2000, 3);
    status = 503;
    await advance(2000, 4);
    await advance(2000, 5);
    expect(results).toHaveLength(1);
    await advance(2000, 6);
    expect(results.slice(1)).toEqual([
      { kind: 'readiness', healthy: false, message: expect.stringContaining('503'), consecutive: 3 },
    ]);
    expect(worker.healthy).toBe(false);

    await advance(2000, 7);
    expect(results).toHaveLength(2);
  });

  it('reports not ready once when failures decide readiness first, and never repeats it', async () => {
    const server = await startHttpServer({ status: () => 500 });
    const probe: V1Probe = { httpGet: { port: server.port }, periodSeconds: 1, failureThreshold: 2 };
    const { results, advance } = startWorker({ kind: 'readiness', probe, podIP: POD_IP, namedPorts: NO_PORTS });
    await advance(0, 1);
    expect(results).toEqual([]);
    await advance(1000, 2);
    expect(results).toEqual([{ kind: 'readiness', healthy: false, message: expect.any(String), consecutive: 2 }]);
    await advance(1000, 3);
    await advance(1000, 4);
    expect(results).toHaveLength(1);
  });

  it('waits initialDelaySeconds before the first attempt', async () => {
    const server = await startHttpServer();
    const probe: V1Probe = { httpGet: { port: server.port }, initialDelaySeconds: 5 };
    const { clock, attempts, results, advance } = startWorker({
      kind: 'readiness',
      probe,
      podIP: POD_IP,
      namedPorts: NO_PORTS,
    });
    clock.advance(4999);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests).toHaveLength(0);
    expect(attempts).toHaveLength(0);
    await advance(1, 1);
    expect(results).toEqual([expect.objectContaining({ healthy: true, consecutive: 1 })]);
  });

  it('never overlaps attempts when one is slower than the period, and probes again as soon as it ends', async () => {
    const server = await startHttpServer();
    server.hold();
    const probe: V1Probe = { httpGet: { port: server.port }, periodSeconds: 1, timeoutSeconds: 30 };
    const { clock, attempts, advance } = startWorker({ kind: 'readiness', probe, podIP: POD_IP, namedPorts: NO_PORTS });
    clock.advance(0);
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    clock.advance(5000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests).toHaveLength(1);
    expect(clock.pending()).toBe(0);

    server.release();
    await vi.waitFor(() => expect(attempts).toHaveLength(1));
    await advance(0, 2);
    expect(server.requests).toHaveLength(2);
    expect(server.maxInFlight()).toBe(1);
  });

  it('probes every periodOverrideMs when given', async () => {
    const server = await startHttpServer();
    const probe: V1Probe = { httpGet: { port: server.port }, periodSeconds: 10 };
    const { clock, advance } = startWorker({
      kind: 'readiness',
      probe,
      podIP: POD_IP,
      namedPorts: NO_PORTS,
      periodOverrideMs: 100,
    });
    await advance(0, 1);
    await advance(100, 2);
    await advance(100, 3);
    expect(clock.pending()).toBe(1);
  });

  it('stops probing on stop(), dropping the result of an attempt in flight', async () => {
    const server = await startHttpServer();
    server.hold();
    const probe: V1Probe = { httpGet: { port: server.port }, periodSeconds: 1 };
    const { worker, clock, attempts, results } = startWorker({
      kind: 'readiness',
      probe,
      podIP: POD_IP,
      namedPorts: NO_PORTS,
    });
    clock.advance(0);
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    const stopped = worker.stop();
    server.release();
    await stopped;
    clock.advance(60_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests).toHaveLength(1);
    expect(attempts).toEqual([]);
    expect(results).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('reports only the failure of a liveness probe, then holds until the container restarts', async () => {
    let status = 200;
    const server = await startHttpServer({ status: () => status });
    const probe: V1Probe = { httpGet: { port: server.port }, periodSeconds: 1, failureThreshold: 2 };
    const { worker, clock, results, advance } = startWorker({
      kind: 'liveness',
      probe,
      podIP: POD_IP,
      namedPorts: NO_PORTS,
    });
    expect(worker.healthy).toBe(true);
    await advance(0, 1);
    await advance(1000, 2);
    expect(results).toEqual([]);
    status = 500;
    await advance(1000, 3);
    await advance(1000, 4);
    expect(results).toEqual([{ kind: 'liveness', healthy: false, message: expect.any(String), consecutive: 2 }]);
    expect(clock.pending()).toBe(0);
  });

  it('reports startup once it succeeds, then stops probing', async () => {
    const server = await startHttpServer();
    const probe: V1Probe = { httpGet: { port: server.port }, periodSeconds: 1, failureThreshold: 30 };
    const { results, clock, advance } = startWorker({ kind: 'startup', probe, podIP: POD_IP, namedPorts: NO_PORTS });
    await advance(0, 1);
    expect(results).toEqual([{ kind: 'startup', healthy: true, message: expect.any(String), consecutive: 1 }]);
    expect(clock.pending()).toBe(0);
  });

  it('rejects an invalid probe, listing every problem', () => {
    const make = () =>
      new ProbeWorker({
        kind: 'liveness',
        probe: { tcpSocket: { port: 1 }, successThreshold: 2, periodSeconds: 0, failureThreshold: -1 },
        podIP: POD_IP,
        namedPorts: NO_PORTS,
        onResult: () => {},
      });
    expect(make).toThrow(/livenessProbe\.periodSeconds[\s\S]*livenessProbe\.failureThreshold[\s\S]*must be 1/);
  });

  it('keeps one gRPC connection across attempts and closes it on stop()', async () => {
    const { port: healthPort } = await startHealthServer({ '': 'SERVING' });
    const forwarder = await startCountingForwarder(healthPort);
    const probe: V1Probe = { grpc: { port: forwarder.port }, periodSeconds: 1 };
    const { worker, advance } = startWorker({ kind: 'readiness', probe, podIP: POD_IP, namedPorts: NO_PORTS });
    await advance(0, 1);
    await advance(1000, 2);
    await advance(1000, 3);
    expect(forwarder.accepted()).toBe(1);
    await worker.stop();
    await vi.waitFor(() => expect(forwarder.open()).toBe(0));
  });

  it('becomes ready on the real clock once a gRPC server that was not listening comes up SERVING', async () => {
    const port = await freePort();
    const results: ProbeResult[] = [];
    const attempts: ProbeAttempt[] = [];
    const worker = new ProbeWorker({
      kind: 'readiness',
      probe: { grpc: { port } },
      podIP: POD_IP,
      namedPorts: NO_PORTS,
      periodOverrideMs: 50,
      onResult: (result) => results.push(result),
      onAttempt: (attempt) => attempts.push(attempt),
    });
    cleanups.push(() => worker.stop());
    worker.start();
    await vi.waitFor(() => expect(attempts.length).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
    expect(results).toEqual([expect.objectContaining({ healthy: false })]);

    const { health } = await startHealthServer({ '': 'NOT_SERVING' }, port);
    await vi.waitFor(() => expect(attempts.at(-1)?.message).toContain('NOT_SERVING'), { timeout: 10_000 });
    health.setStatus('', 'SERVING');
    await vi.waitFor(() => expect(worker.healthy).toBe(true), { timeout: 10_000 });
    expect(results.at(-1)).toEqual(expect.objectContaining({ healthy: true, consecutive: 1 }));
  });
});
