/**
 * The instrumented backend over real gRPC and HTTP on 127.0.0.1: in-process (startBackend) for
 * its behaviours, and as the real `skewless backend` command for the process contract (printed
 * ports, SIGTERM → drain → exit 0, exit 2 on bad config).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import {
  createLogger,
  ECHO_SERVICE_NAME,
  type EchoClient,
  type EchoReply,
  type EchoRequest,
  echoGrpc,
} from '@skewless/shared';
import { service as healthService } from 'grpc-health-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type BackendConfig, backendConfig, loadBackendConfig } from '../src/backend/backend-config.ts';
import { warmupExtraMs } from '../src/backend/backend-faults.ts';
import { type BackendOptions, type StartedBackend, startBackend } from '../src/backend/instrumented-backend.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const logger = createLogger('backend.test', process.env.SKEWLESS_LOG_LEVEL ?? 'error');
const IDENTITY = { pod: 'pod-a', namespace: 'shop', zone: 'zone-a', node: 'node-1' };

const backends: StartedBackend[] = [];
const clients: grpc.Client[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(backends.splice(0).map((backend) => backend.close()));
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function start(values: Partial<BackendConfig> = {}, options: Partial<BackendOptions> = {}) {
  const config = backendConfig({
    bindAddress: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    ...IDENTITY,
    drainDelayMs: 0,
    ...values,
  });
  const backend = await startBackend(config, { logger, ...options });
  backends.push(backend);
  return backend;
}

function echoClient(port: number): EchoClient {
  const client = new (echoGrpc().Client)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  clients.push(client);
  return client;
}

type Outcome = { ok: true; reply: EchoReply } | { ok: false; code: grpc.status; details: string };

/** Settles with the call's outcome instead of throwing, so tests can count failures. */
function echo(client: EchoClient, request: EchoRequest, timeoutMs = 20_000): Promise<Outcome> {
  return new Promise((resolve) => {
    client.Echo(request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, reply) =>
      resolve(error ? { ok: false, code: error.code, details: error.details } : { ok: true, reply: reply! }),
    );
  });
}

function streamEcho(client: EchoClient, count: number): Promise<EchoReply[]> {
  return new Promise((resolve, reject) => {
    const replies: EchoReply[] = [];
    const call = client.StreamEcho({ message: 'stream', count, interval_ms: 5 }, { deadline: Date.now() + 20_000 });
    call.on('data', (reply: EchoReply) => replies.push(reply));
    call.on('error', reject);
    call.on('end', () => resolve(replies));
  });
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; elapsedMs: number }> {
  const startMs = performance.now();
  const value = await run();
  return { value, elapsedMs: performance.now() - startMs };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition → samples. */
async function scrape(httpPort: number): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  expect(response.status).toBe(200);
  const samples: Sample[] = [];
  for (const line of (await response.text()).split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

function sampleValue(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

const HealthClient = grpc.makeClientConstructor(
  healthService as unknown as grpc.ServiceDefinition,
  'grpc.health.v1.Health',
) as unknown as new (
  target: string,
  credentials: grpc.ChannelCredentials,
) => grpc.Client & {
  Check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, reply?: { status: string }) => void,
  ): void;
  Watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

function healthClient(port: number) {
  const client = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  clients.push(client);
  return client;
}

function healthStatus(client: InstanceType<typeof HealthClient>, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Check({ service }, { deadline: Date.now() + 10_000 }, (error, reply) =>
      error ? reject(error) : resolve(reply!.status),
    ),
  );
}

async function httpStatus(port: number, pathname: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${pathname}`)).status;
}

async function putFault(port: number, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${port}/fault`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('skewless backend, in-process over real sockets', () => {
  it('names its pod, zone and node in unary and streamed replies', async () => {
    const backend = await start();
    const client = echoClient(backend.grpcPort);
    const unary = await echo(client, { message: 'hello' });
    expect(unary).toEqual({ ok: true, reply: { message: 'hello', pod: 'pod-a', zone: 'zone-a', node: 'node-1' } });
    const streamed = await streamEcho(client, 3);
    expect(streamed).toEqual(Array(3).fill({ message: 'stream', pod: 'pod-a', zone: 'zone-a', node: 'node-1' }));
  });

  it('names its pod, zone and node over HTTP at GET /whoami', async () => {
    const backend = await start();
    const response = await fetch(`http://127.0.0.1:${backend.httpPort}/whoami`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ pod: 'pod-a', zone: 'zone-a', node: 'node-1' });
  });

  it('counts calls by method and code, with in-flight and latency series labelled by pod, zone and node', async () => {
    const backend = await start();
    const client = echoClient(backend.grpcPort);
    for (let i = 0; i < 3; i += 1) expect((await echo(client, { message: 'x' })).ok).toBe(true);
    await streamEcho(client, 2);
    const samples = await scrape(backend.httpPort);
    const where = { pod: 'pod-a', zone: 'zone-a', node: 'node-1' };
    expect(sampleValue(samples, 'skewless_backend_requests_total', { method: 'Echo', code: 'OK', ...where })).toBe(3);
    expect(
      sampleValue(samples, 'skewless_backend_requests_total', { method: 'StreamEcho', code: 'OK', ...where }),
    ).toBe(1);
    expect(sampleValue(samples, 'skewless_backend_in_flight', { method: 'Echo', ...where })).toBe(0);
    expect(sampleValue(samples, 'skewless_backend_request_duration_seconds_count', { method: 'Echo', ...where })).toBe(
      3,
    );
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
  });

  it('fails every call with the configured code and a message naming the pod at error rate 1', async () => {
    const backend = await start({ errorRate: 1, errorCode: 'RESOURCE_EXHAUSTED' });
    const client = echoClient(backend.grpcPort);
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => echo(client, { message: 'x' })));
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ ok: false, code: grpc.status.RESOURCE_EXHAUSTED });
      expect(outcome.ok || outcome.details).toContain('pod-a');
    }
    await expect(streamEcho(client, 3)).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    const samples = await scrape(backend.httpPort);
    expect(
      sampleValue(samples, 'skewless_backend_requests_total', { method: 'Echo', code: 'RESOURCE_EXHAUSTED' }),
    ).toBe(20);
    expect(sampleValue(samples, 'skewless_backend_requests_total', { method: 'Echo', code: 'OK' })).toBe(0);
  });

  it('fails about half of 400 calls at error rate 0.5, and the metrics agree', async () => {
    const backend = await start({ errorRate: 0.5, errorCode: 'ABORTED' }, { random: seeded(42) });
    const client = echoClient(backend.grpcPort);
    const outcomes = await Promise.all(Array.from({ length: 400 }, () => echo(client, { message: 'x' })));
    const failed = outcomes.filter((o) => !o.ok);
    // Binomial(400, 0.5): mean 200, sd 10; the seed makes it deterministic, the band keeps it honest.
    expect(failed.length).toBeGreaterThanOrEqual(150);
    expect(failed.length).toBeLessThanOrEqual(250);
    expect(failed.every((o) => o.code === grpc.status.ABORTED)).toBe(true);
    const samples = await scrape(backend.httpPort);
    expect(sampleValue(samples, 'skewless_backend_requests_total', { method: 'Echo', code: 'ABORTED' })).toBe(
      failed.length,
    );
    expect(sampleValue(samples, 'skewless_backend_requests_total', { method: 'Echo', code: 'OK' })).toBe(
      400 - failed.length,
    );
  });

  it("adds configured latency and jitter on top of the request's own delay_ms", async () => {
    const backend = await start({ latencyMs: 150, latencyJitterMs: 50 });
    const client = echoClient(backend.grpcPort);
    const { value, elapsedMs } = await timed(() => echo(client, { message: 'slow', delay_ms: 100 }));
    expect(value.ok).toBe(true);
    expect(elapsedMs).toBeGreaterThanOrEqual(250 - 2);
  });

  it('burns CPU per call, so concurrent calls queue behind each other instead of overlapping', async () => {
    const backend = await start({ cpuWorkMs: 250 });
    const client = echoClient(backend.grpcPort);
    await echo(client, { message: 'connect first' });
    const { value, elapsedMs } = await timed(() =>
      Promise.all([echo(client, { message: 'a' }), echo(client, { message: 'b' })]),
    );
    expect(value.every((o) => o.ok)).toBe(true);
    // A sleep would let both finish after ~250 ms; a busy loop holds the event loop for each in turn.
    expect(elapsedMs).toBeGreaterThanOrEqual(500 - 2);
  });

  it('starts cold: warm-up latency falls linearly from its start value to 0', async () => {
    const warmup = { durationMs: 10_000, latencyMs: 400 };
    expect([0, 2_500, 5_000, 10_000, 60_000].map((t) => warmupExtraMs(warmup, t))).toEqual([400, 300, 200, 0, 0]);
    expect(warmupExtraMs({ durationMs: 0, latencyMs: 400 }, 0)).toBe(0);

    let clockMs = 0;
    const backend = await start({ warmupMs: 10_000, warmupLatencyMs: 400 }, { now: () => clockMs });
    const client = echoClient(backend.grpcPort);
    const cold = await timed(() => echo(client, { message: 'cold' }));
    expect(cold.value.ok).toBe(true);
    expect(cold.elapsedMs).toBeGreaterThanOrEqual(400 - 2);
    clockMs = 5_000;
    const halfWarm = await timed(() => echo(client, { message: 'half warm' }));
    expect(halfWarm.elapsedMs).toBeGreaterThanOrEqual(200 - 2);
    expect(await httpStatus(backend.httpPort, '/readyz')).toBe(200);
  });

  it('changes latency and errors at run time over PUT /fault, and keeps the previous settings on a bad body', async () => {
    const backend = await start();
    const client = echoClient(backend.grpcPort);
    expect((await echo(client, { message: 'before' })).ok).toBe(true);

    const slow = await putFault(backend.httpPort, { latencyMs: 300 });
    expect(slow).toEqual({
      status: 200,
      body: { latencyMs: 300, latencyJitterMs: 0, cpuWorkMs: 0, errorRate: 0, errorCode: 'UNAVAILABLE' },
    });
    const slowCall = await timed(() => echo(client, { message: 'slow' }));
    expect(slowCall.value.ok).toBe(true);
    expect(slowCall.elapsedMs).toBeGreaterThanOrEqual(300 - 2);

    expect((await putFault(backend.httpPort, { latencyMs: 0, errorRate: 1, errorCode: 'DATA_LOSS' })).status).toBe(200);
    expect(await echo(client, { message: 'fails' })).toMatchObject({ ok: false, code: grpc.status.DATA_LOSS });

    const bad = await putFault(backend.httpPort, { errorRate: 2, latencyMs: -1, errorCode: 'OK', surprise: true });
    expect(bad.status).toBe(400);
    const paths = (bad.body as { problems: { path: string }[] }).problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['errorRate', 'latencyMs', 'errorCode', '(body)']));
    const notJson = await fetch(`http://127.0.0.1:${backend.httpPort}/fault`, { method: 'PUT', body: '{' });
    expect(notJson.status).toBe(400);

    const kept = await (await fetch(`http://127.0.0.1:${backend.httpPort}/fault`)).json();
    expect(kept).toEqual({ latencyMs: 0, latencyJitterMs: 0, cpuWorkMs: 0, errorRate: 1, errorCode: 'DATA_LOSS' });
    expect(await echo(client, { message: 'still fails' })).toMatchObject({ ok: false, code: grpc.status.DATA_LOSS });

    expect((await putFault(backend.httpPort, { errorRate: 0 })).status).toBe(200);
    expect((await echo(client, { message: 'recovered' })).ok).toBe(true);
  });

  it('reports SERVING over gRPC health and /readyz, then NOT_SERVING and 503 as soon as it drains, still answering calls', async () => {
    const backend = await start({ drainDelayMs: 60_000 });
    const health = healthClient(backend.grpcPort);
    expect(await healthStatus(health, '')).toBe('SERVING');
    expect(await healthStatus(health, ECHO_SERVICE_NAME)).toBe('SERVING');
    expect(await httpStatus(backend.httpPort, '/readyz')).toBe(200);
    const watched: string[] = [];
    const watch = health.Watch({ service: '' });
    watch.on('data', (reply: { status: string }) => watched.push(reply.status));
    watch.on('error', () => {});
    await until('the Watch stream to report SERVING', () => watched.length === 1);

    void backend.drain();
    expect(backend.phase()).toBe('draining');
    expect(await healthStatus(health, '')).toBe('NOT_SERVING');
    expect(await healthStatus(health, ECHO_SERVICE_NAME)).toBe('NOT_SERVING');
    expect(await httpStatus(backend.httpPort, '/readyz')).toBe(503);
    expect(await httpStatus(backend.httpPort, '/healthz')).toBe(200);
    await until('the Watch stream to report NOT_SERVING', () => watched.length === 2);
    expect(watched).toEqual(['SERVING', 'NOT_SERVING']);
    // Endpoint removal takes a while to reach every client: until then, calls are still answered.
    expect((await echo(echoClient(backend.grpcPort), { message: 'during drain delay' })).ok).toBe(true);
  });

  it('drains: finishes a call in flight, refuses new connections after GOAWAY, then stops', async () => {
    const backend = await start({ drainDelayMs: 100, drainTimeoutMs: 10_000 });
    const client = echoClient(backend.grpcPort);
    // An open health Watch must not hold the drain to its timeout.
    const watch = healthClient(backend.grpcPort).Watch({ service: '' });
    watch.on('data', () => {});
    watch.on('error', () => {});
    // drainDelayMs ≪ delay_ms: the server's timers fire in deadline order, so GOAWAY comes while it runs.
    const long = echo(client, { message: 'long', delay_ms: 2000 });
    await until('the long call to arrive', () => backend.inFlight() === 1);

    const drained = backend.drain();
    await until('GOAWAY', () => backend.phase() === 'goaway');
    expect(backend.inFlight()).toBe(1);
    const fresh = await echo(echoClient(backend.grpcPort), { message: 'new connection' }, 10_000);
    expect(fresh).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    expect(fresh.ok || fresh.details).toMatch(/ECONNREFUSED/);
    expect(await echo(client, { message: 'after GOAWAY' }, 10_000)).toMatchObject({
      ok: false,
      code: grpc.status.UNAVAILABLE,
    });

    expect(await long).toEqual({ ok: true, reply: { message: 'long', pod: 'pod-a', zone: 'zone-a', node: 'node-1' } });
    expect(await drained).toEqual({ forced: false, inFlight: 0 });
    expect(backend.phase()).toBe('stopped');
    await expect(fetch(`http://127.0.0.1:${backend.httpPort}/healthz`)).rejects.toThrow();
  });

  it('cancels calls still running when the drain timeout runs out', async () => {
    const backend = await start({ drainDelayMs: 0, drainTimeoutMs: 200 });
    const client = echoClient(backend.grpcPort);
    const stuck = echo(client, { message: 'stuck', delay_ms: 60_000 });
    await until('the stuck call to arrive', () => backend.inFlight() === 1);
    expect(await backend.drain()).toEqual({ forced: true, inFlight: 1 });
    expect((await stuck).ok).toBe(false);
    await until('the cancelled call to be counted out', () => backend.inFlight() === 0);
  });
});

describe('backend configuration', () => {
  it('takes identity from the downward-API env, and flags win over env', () => {
    const result = loadBackendConfig({
      env: { POD_NAME: 'cart-7d9f', POD_NAMESPACE: 'shop', NODE_NAME: 'node-3', ZONE: 'zone-b', GRPC_PORT: 'abc' },
      flags: { grpcPort: '7000', zone: 'zone-c' },
    });
    expect(result).toMatchObject({
      ok: true,
      config: {
        pod: 'cart-7d9f',
        namespace: 'shop',
        node: 'node-3',
        zone: 'zone-c',
        grpcPort: 7000,
        httpPort: 9090,
        bindAddress: '0.0.0.0',
        errorCode: 'UNAVAILABLE',
        drainDelayMs: 2000,
        drainTimeoutMs: 10_000,
      },
    });
  });

  it('lists every invalid value with the flag or env variable it came from', () => {
    const result = loadBackendConfig({
      env: { GRPC_PORT: 'abc', ERROR_RATE: '2', ERROR_CODE: 'OK', LOG_LEVEL: 'loud', NICE: '-25' },
      flags: { latencyMs: '-1', httpPort: '1.5' },
    });
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.problems.map((p) => p.path);
    expect(paths.sort()).toEqual([
      '--http-port',
      '--latency-ms',
      'ERROR_CODE',
      'ERROR_RATE',
      'GRPC_PORT',
      'LOG_LEVEL',
      'NICE',
    ]);
  });
});

describe('skewless backend, the real command', () => {
  const cli = path.join(repoRoot, 'cli/src/main.ts');

  function run(args: string[], env: Record<string, string>) {
    const child = spawn(process.execPath, [cli, 'backend', ...args], {
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // 'close', not 'exit': 'exit' can fire before the last stderr chunks are read, and the test reads them.
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    return { child, stderr: () => stderr, exited };
  }

  it('serves on the ports it prints, then drains and exits 0 on SIGTERM', async () => {
    const { child, stderr, exited } = run(
      [
        '--grpc-port',
        '0',
        '--http-port',
        '0',
        '--bind-address',
        '127.0.0.1',
        '--zone',
        'zone-cli',
        '--drain-delay-ms',
        '100',
        // Above 0 needs no privilege; the child shares the runner's autogroup, which it leaves alone.
        '--nice',
        '3',
      ],
      // The flag wins over this bad env value.
      { POD_NAME: 'cli-pod', NODE_NAME: 'node-cli', GRPC_PORT: 'abc' },
    );
    const firstLine = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      exited.then((code) => reject(new Error(`exited ${code} before printing its ports:\n${stderr()}`)));
    });
    const ports = JSON.parse(firstLine) as { grpcPort: number; httpPort: number };
    expect(ports.grpcPort).toBeGreaterThan(0);
    expect(ports.httpPort).toBeGreaterThan(0);
    // The niceness the kernel has for the serving process (field 19 of /proc/<pid>/stat), and the log saying so.
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])).toBe(3);
    await vi.waitFor(() => expect(stderr()).toContain('running at niceness 3'));

    const reply = await echo(echoClient(ports.grpcPort), { message: 'from the test' });
    expect(reply).toEqual({
      ok: true,
      reply: { message: 'from the test', pod: 'cli-pod', zone: 'zone-cli', node: 'node-cli' },
    });
    expect(await httpStatus(ports.httpPort, '/readyz')).toBe(200);
    const samples = await scrape(ports.httpPort);
    expect(
      sampleValue(samples, 'skewless_backend_requests_total', { method: 'Echo', code: 'OK', pod: 'cli-pod' }),
    ).toBe(1);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const phases = stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { phase?: string }).phase)
      .filter((phase) => phase !== undefined);
    expect(phases).toEqual(['draining', 'goaway', 'stopped']);
  });

  it('exits 2 listing every invalid env value, without serving', async () => {
    const { child, stderr, exited } = run(['--http-port', '0'], { GRPC_PORT: 'abc', ERROR_RATE: '2' });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    expect(await exited).toBe(2);
    expect(stderr()).toMatch(/GRPC_PORT: expected a number \(got "abc"\)/);
    expect(stderr()).toMatch(/ERROR_RATE: .*<=1 \(got "2"\)/);
    expect(stdout).toBe('');
  });
});
