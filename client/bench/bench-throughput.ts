/**
 * Unary throughput through our `skewless` policy (fed by the real control plane) vs grpc-js
 * `round_robin` and `pick_first`, against the same backends (another process). Each measurement
 * runs in a fresh worker process (bench-throughput-worker.ts); rounds rotate the policy order and
 * ratios are taken within a round, which cancels most drift from other load on a shared machine.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createXdsServer } from '@skewless/control-plane';
import { createLogger } from '@skewless/shared';

const run = promisify(execFile);

export const POLICIES = ['skewless', 'round_robin', 'pick_first'] as const;
export type Policy = (typeof POLICIES)[number];

export interface ThroughputOptions {
  readonly ports: readonly number[];
  readonly callsPerRound: number;
  readonly concurrency: number;
  readonly rounds: number;
}

export interface PolicyResult {
  readonly rps: number;
  /** Client-process CPU per call: less sensitive than rps to other load on the machine. */
  readonly cpuUsPerCall: number;
}

export interface ThroughputResult {
  readonly policies: Record<Policy, PolicyResult>;
  /** Median over rounds of skewless rps / other rps within the same round. */
  readonly vsRoundRobin: number;
  readonly vsPickFirst: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export async function measureThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const logger = createLogger('bench', 'silent');
  const xds = createXdsServer({ logger, batchWindowMs: 5 });
  const cpPort = await xds.bind('127.0.0.1:0');
  xds.sink.replaceAll([
    {
      key: { namespace: 'default', service: 'bench', port: 'grpc' },
      name: 'default/bench:grpc',
      servicePort: 50051,
      endpoints: options.ports.map((port, i) => ({
        address: '127.0.0.1',
        port,
        health: 'HEALTHY' as const,
        zone: ['a', 'b', 'c'][i % 3] as string,
        weight: 1,
      })),
    },
  ]);
  const worker = path.join(import.meta.dirname, 'bench-throughput-worker.ts');
  const results: Record<Policy, PolicyResult[]> = { skewless: [], round_robin: [], pick_first: [] };
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (let i = 0; i < POLICIES.length; i++) {
        const policy = POLICIES[(i + round) % POLICIES.length] as Policy;
        const args = [
          worker,
          policy,
          options.ports.join(','),
          `127.0.0.1:${cpPort}`,
          String(options.callsPerRound),
          String(options.concurrency),
        ];
        const { stdout } = await run(process.execPath, args, { timeout: 150_000 });
        results[policy].push(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as PolicyResult);
      }
    }
  } finally {
    await xds.close(50);
  }
  const summary = (rounds: PolicyResult[]): PolicyResult => ({
    rps: median(rounds.map((r) => r.rps)),
    cpuUsPerCall: median(rounds.map((r) => r.cpuUsPerCall)),
  });
  const paired = (other: Policy) =>
    median(results.skewless.map((r, i) => r.rps / (results[other][i] as PolicyResult).rps));
  return {
    policies: {
      skewless: summary(results.skewless),
      round_robin: summary(results.round_robin),
      pick_first: summary(results.pick_first),
    },
    vsRoundRobin: paired('round_robin'),
    vsPickFirst: paired('pick_first'),
  };
}
