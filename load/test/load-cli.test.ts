/**
 * The real CLI, spawned as a pod's agent would spawn it: one JSON line last on stdout, progress on
 * stderr, exit 0 for a completed run (also one cut short by SIGTERM), 2 for a bad config.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEndpoints, startZonedBackends } from '../../client/test/backends.ts';
import { startControlPlane } from '../../client/test/control-plane-fixture.ts';
import type { LoadResult } from '../src/index.ts';
import { type EchoPods, startEchoPods } from './echo-pods.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO_ROOT, 'cli/src/main.ts');

interface Exited {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Environment without any LOAD_*, ZONE or control-plane variable of the machine running the tests. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(LOAD_|SKEWLESS_|ZONE$|POD_|LOG_LEVEL$)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function startCli(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [CLI, 'load', ...args], { cwd: REPO_ROOT, env: cleanEnv(env) });
}

function exited(child: ChildProcess, timeoutMs = 30_000): Promise<Exited> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI still running after ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    // 'close' fires once the process has exited and its pipes are drained.
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function lastJsonLine(stdout: string): LoadResult {
  const lines = stdout.trimEnd().split('\n');
  return JSON.parse(lines.at(-1) ?? '') as LoadResult;
}

describe('skewless load (CLI)', () => {
  let echo: EchoPods;
  beforeAll(async () => {
    echo = await startEchoPods();
  });
  afterAll(() => echo.close());

  it('prints one parseable JSON result line and exits 0', async () => {
    const child = startCli(
      ['--mode', 'round-robin', '--target', echo.ipv4Target, '--rate', '50', '--duration-s', '1'],
      { POD_NAME: 'load-test-0', ZONE: 'b' },
    );
    const { code, stdout, stderr } = await exited(child);
    expect(code, stderr).toBe(0);
    expect(stdout.trimEnd().split('\n')).toHaveLength(1);
    const result = lastJsonLine(stdout);
    expect(result.totals.requests).toBeGreaterThan(0);
    expect(result.totals.requests).toBe(50);
    expect(result).toMatchObject({ mode: 'round-robin', client: 'load-test-0', zone: 'b', stoppedEarly: false });
    expect(result.perPod.map((p) => p.pod).sort()).toEqual(['pod-a', 'pod-b', 'pod-c']);
    // Progress went to stderr, as JSON log lines.
    expect(stderr).toContain('"progress"');
  });

  it('runs at the niceness asked for and says so in its result', async () => {
    const child = startCli(
      ['--mode', 'round-robin', '--target', echo.ipv4Target, '--rate', '20', '--duration-s', '1'],
      {
        LOAD_NICE: '3',
      },
    );
    const { code, stdout, stderr } = await exited(child);
    expect(code, stderr).toBe(0);
    const { cpuPriority, totals } = lastJsonLine(stdout);
    expect(totals.requests).toBe(20);
    expect(cpuPriority).toMatchObject({ nice: 3, applied: true });
    expect(cpuPriority?.threads).toBeGreaterThan(1);
    // Not its session's leader here, so the autogroup it shares with the test runner stays as it was.
    expect(['shared', 'off']).toContain(cpuPriority?.autogroup);
    expect(stderr).toContain('running at niceness 3');
  });

  it('stops early on SIGTERM, still prints its result and exits 0', async () => {
    const child = startCli([
      '--mode',
      'pick-first',
      '--target',
      echo.ipv4Target,
      '--rate',
      '50',
      '--duration-s',
      '600',
    ]);
    const done = exited(child, 30_000);
    // Signal once the first measured second has been reported.
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        if (!chunk.toString().includes('"progress"')) return;
        child.stderr?.off('data', onData);
        resolve();
      };
      child.stderr?.on('data', onData);
    });
    child.kill('SIGTERM');
    const { code, stdout, stderr } = await done;
    expect(code, stderr).toBe(0);
    const result = lastJsonLine(stdout);
    expect(result.stoppedEarly).toBe(true);
    expect(result.durationS).toBeLessThan(600);
    expect(result.totals.requests).toBeGreaterThanOrEqual(50);
  });

  it('ends after a skewless-mode run with its result and exit 0, as a load pod must to complete', async () => {
    // A pod whose load process never exits never completes, and the scenario waiting for it times out.
    // (After a rollout grpc-js may still hold connects to deleted pods; the command ends 2 s after its
    // result regardless — see load/README.md — so this checks the result and the clean exit.)
    const backends = await startZonedBackends(1);
    const { server, port } = await startControlPlane();
    server.sink.replaceAll([serviceEndpoints(backends)]);
    try {
      const child = startCli(
        [
          '--mode',
          'skewless',
          '--target',
          'skewless:///default/backend:grpc',
          '--control-plane',
          `127.0.0.1:${port}`,
          '--rate',
          '30',
          '--duration-s',
          '1',
        ],
        { ZONE: 'a' },
      );
      const { code, stdout, stderr } = await exited(child, 20_000);
      expect(code, stderr).toBe(0);
      const result = lastJsonLine(stdout);
      expect(result.totals).toMatchObject({ requests: 30, errors: 0 });
      expect(result.controlPlane?.acks).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close(100);
      await Promise.all(backends.map((b) => b.close()));
    }
  });

  it('exits 2 on an invalid environment, listing every problem and printing no result', async () => {
    const { code, stdout, stderr } = await exited(
      startCli([], { LOAD_MODE: 'sideways', LOAD_RATE: '-1', LOAD_NICE: '-30', LOAD_TARGET: echo.ipv4Target }),
    );
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('LOAD_MODE: expected one of skewless, pick-first, round-robin (got "sideways")');
    expect(stderr).toContain('LOAD_RATE: Too small');
    expect(stderr).toContain('LOAD_NICE: Too small: expected number to be >=-20 (got "-30")');
  });

  it('exits 2 when skewless mode has no control plane', async () => {
    const { code, stderr } = await exited(startCli(['--target', 'skewless:///skewless/echo:50051']));
    expect(code).toBe(2);
    expect(stderr).toContain('--control-plane / SKEWLESS_CONTROL_PLANE: required in skewless mode');
  });
});
