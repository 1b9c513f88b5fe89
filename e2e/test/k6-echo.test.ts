/**
 * e2e/k6/echo-load.ts run by the real k6 (.tools/bin/k6) against real backends on 127.0.0.1, and its
 * summary turned into a LoadResult: counts per pod, per zone, per error code and per second agree with
 * each other and with the backend's own metrics. The cluster test (envoy-ingress.test.ts) runs the same
 * script in pods, through Envoy.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createLogger, ECHO_PROTO_FILE } from '@skewless/shared';
import { toolPath } from '@skewless/testbed';
import { backendConfig, type StartedBackend, startBackend } from '@skewless/testbed/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type K6RunContext, k6LoadResult, parseK6Summary } from '../src/k6-summary.ts';

const SCRIPT = join(resolve(import.meta.dirname, '..'), 'k6', 'echo-load.ts');
const logger = createLogger('k6-echo-test', 'warn');
let flaky: StartedBackend;

beforeAll(async () => {
  flaky = await startBackend(
    backendConfig({
      bindAddress: '127.0.0.1',
      grpcPort: 0,
      httpPort: 0,
      pod: 'echo-a1',
      zone: 'zone-a',
      node: 'node-a',
      drainDelayMs: 0,
      errorRate: 0.25,
      errorCode: 'RESOURCE_EXHAUSTED',
    }),
    { logger },
  );
});

afterAll(async () => {
  await flaky?.close();
});

/** Runs k6 as a child process (the backends live in this process: never block its event loop). */
function k6(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(toolPath('k6'), ['run', '--quiet', '--no-usage-report', '--log-format=json', SCRIPT], {
      env: { ...process.env, ECHO_PROTO: ECHO_PROTO_FILE, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

const context = (protocol: 'grpc' | 'http2', target: string): K6RunContext => ({
  protocol,
  target,
  client: 'k6-test',
  zone: 'zone-a',
  rate: 40,
  durationS: 3,
  vus: 4,
  pods: [
    { name: 'echo-a1', zone: 'zone-a', node: 'node-a' },
    { name: 'echo-b1', zone: 'zone-b', node: 'node-b' },
  ],
});

describe('k6 echo-load.ts against a real backend', () => {
  it('counts gRPC replies per pod, zone and second, and failures by status name', async () => {
    const target = `127.0.0.1:${flaky.grpcPort}`;
    const run = await k6({
      TARGET: target,
      PROTOCOL: 'grpc',
      RATE: '40',
      DURATION_S: '3',
      VUS: '4',
      PODS: 'echo-a1,echo-b1',
      ZONES: 'zone-a,zone-b',
    });
    expect(run.code, run.stderr).toBe(0);
    const summary = parseK6Summary(run.stdout);
    if (!summary) throw new Error(`no summary in k6's output:\n${run.stdout}\n${run.stderr}`);
    const result = k6LoadResult(summary, context('grpc', target));

    // ~40/s for 3 s, open loop: k6 starts each call on schedule or drops it.
    expect(result.totals.requests).toBeGreaterThanOrEqual(110);
    expect(result.totals.requests).toBeLessThanOrEqual(130);
    expect(result.totals.ok + result.totals.errors).toBe(result.totals.requests);
    const failed = result.totals.byCode.RESOURCE_EXHAUSTED ?? 0;
    expect(failed / (result.totals.requests - result.droppedIterations)).toBeGreaterThan(0.1);
    expect(failed / (result.totals.requests - result.droppedIterations)).toBeLessThan(0.45);
    expect(Object.keys(result.totals.byCode).sort()).toEqual(
      result.droppedIterations > 0 ? ['CLIENT_OVERLOADED', 'RESOURCE_EXHAUSTED'] : ['RESOURCE_EXHAUSTED'],
    );

    // Only echo-a1 answers; echo-b1 is listed, so it counts as a zero in the spread.
    expect(result.perPod.map((p) => [p.pod, p.zone, p.requests])).toEqual([['echo-a1', 'zone-a', result.totals.ok]]);
    expect(result.perPod[0]?.p99Ms).toBeGreaterThanOrEqual(result.perPod[0]?.p50Ms ?? Number.NaN);
    expect(result.perZone).toEqual({ 'zone-a': result.totals.ok });
    expect(result.metrics).toEqual({ maxOverMean: 2, cv: 1, sameZoneShare: 1 });
    expect(result.unlistedPodCalls).toBe(0);
    expect(result.latencyMs.p50).toBeGreaterThanOrEqual(0);
    expect(result.latencyMs.max).toBeGreaterThanOrEqual(result.latencyMs.p99 ?? Number.POSITIVE_INFINITY);

    // The seconds add up to the totals (dropped calls have no second).
    const sum = (f: (p: (typeof result.timeline)[number]) => number) => result.timeline.reduce((a, p) => a + f(p), 0);
    expect(result.timeline.map((p) => p.t).slice(0, 3)).toEqual([0, 1, 2]);
    expect(sum((p) => p.requests)).toBe(result.totals.requests - result.droppedIterations);
    expect(sum((p) => p.errors)).toBe(failed);
    expect(sum((p) => p.perPod['echo-a1'] ?? 0)).toBe(result.totals.ok);

    // The backend counted the same calls.
    const metrics = await (await fetch(`http://127.0.0.1:${flaky.httpPort}/metrics`)).text();
    const served = [...metrics.matchAll(/skewless_backend_requests_total\{[^}]*method="Echo"[^}]*\} (\d+)/g)].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
    expect(served).toBe(result.totals.requests - result.droppedIterations);
  });

  it('counts HTTP GET /whoami replies per pod and the protocol each response came over', async () => {
    const target = `127.0.0.1:${flaky.httpPort}`;
    const run = await k6({
      TARGET: target,
      PROTOCOL: 'http2',
      RATE: '40',
      DURATION_S: '3',
      VUS: '4',
      PODS: 'echo-a1',
      ZONES: 'zone-a',
    });
    expect(run.code, run.stderr).toBe(0);
    const summary = parseK6Summary(run.stdout);
    if (!summary) throw new Error(`no summary in k6's output:\n${run.stdout}\n${run.stderr}`);
    const result = k6LoadResult(summary, { ...context('http2', target), pods: [context('grpc', '').pods[0]!] });
    // /whoami is not faulted; plaintext to a Node HTTP/1.1 server cannot be HTTP/2.
    expect(result.totals.errors - result.droppedIterations).toBe(0);
    expect(result.perPod.map((p) => [p.pod, p.requests])).toEqual([['echo-a1', result.totals.ok]]);
    expect(result.httpProtocols).toEqual({ 'HTTP/1.1': result.totals.ok });
    expect(result.latencyMs.p50).toBeGreaterThan(0);
  });
});
