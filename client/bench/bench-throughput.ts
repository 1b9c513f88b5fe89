/**
 * Unary throughput through one channel per policy against the same backends (in another process):
 * our `skewless` policy via the real control plane, grpc-js `round_robin` and `pick_first`.
 * Each round runs a fixed number of calls per policy (bounded in count and time); the order
 * rotates between rounds and the median round counts.
 */
import * as grpc from '@grpc/grpc-js';
import { createXdsServer } from '@skewless/control-plane';
import { createLogger, type EchoClient, echoGrpc } from '@skewless/shared';
import { debugSnapshot, register } from '../src/index.ts';

export type Policy = 'skewless' | 'round_robin' | 'pick_first';

export interface ThroughputOptions {
  readonly ports: readonly number[];
  readonly callsPerRound: number;
  readonly concurrency: number;
  readonly rounds: number;
  readonly maxRoundMs: number;
  /** Service options for the skewless channel (default: the library defaults). */
  readonly skewlessDefaults?: Record<string, unknown>;
}

interface RoundResult {
  readonly rps: number;
  /** Client-process CPU per call: less sensitive than rps to other load on the machine. */
  readonly cpuUsPerCall: number;
}

async function run(client: EchoClient, calls: number, concurrency: number, maxMs: number): Promise<RoundResult> {
  let left = calls;
  let done = 0;
  const stopAt = Date.now() + maxMs;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (left > 0 && Date.now() < stopAt) {
      left -= 1;
      await new Promise<void>((resolve, reject) =>
        client.Echo({ message: 'b' }, (error) => (error ? reject(error) : resolve())),
      );
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  return { rps: done / seconds, cpuUsPerCall: (cpu.user + cpu.system) / done };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export interface PolicyResult {
  readonly rps: number;
  readonly cpuUsPerCall: number;
}

export interface ThroughputResult {
  readonly policies: Record<Policy, PolicyResult>;
  /**
   * Median over rounds of skewless rps / other rps within the same round. Pairing by round cancels
   * most of the drift from other load on a shared machine, which unpaired medians do not.
   */
  readonly vsRoundRobin: number;
  readonly vsPickFirst: number;
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
  const registration = register(
    { controlPlane: `127.0.0.1:${cpPort}`, zone: 'a', defaults: options.skewlessDefaults ?? {} },
    { logger },
  );
  const { Client } = echoGrpc();
  const creds = grpc.credentials.createInsecure();
  const ipv4 = `ipv4:${options.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  const clients: Record<Policy, EchoClient> = {
    skewless: new Client('skewless:///default/bench:grpc', creds, { 'grpc.use_local_subchannel_pool': 1 }),
    round_robin: new Client(ipv4, creds, {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
      'grpc.use_local_subchannel_pool': 1,
    }),
    pick_first: new Client(ipv4, creds, {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ pick_first: {} }] }),
      'grpc.use_local_subchannel_pool': 1,
    }),
  };
  const policies = Object.keys(clients) as Policy[];
  // Warm up every channel (connections, JIT) before measuring.
  for (const p of policies) await run(clients[p], 2_000, options.concurrency, options.maxRoundMs);
  const ready = debugSnapshot().balancers[0]?.endpoints.filter((e) => e.connectivity === 'READY').length ?? 0;
  if (ready !== options.ports.length)
    throw new Error(`skewless channel has ${ready}/${options.ports.length} endpoints ready`);
  const results: Record<Policy, RoundResult[]> = { skewless: [], round_robin: [], pick_first: [] };
  for (let round = 0; round < options.rounds; round++) {
    const order = policies.map((_, i) => policies[(i + round) % policies.length] as Policy);
    for (const p of order)
      results[p].push(await run(clients[p], options.callsPerRound, options.concurrency, options.maxRoundMs));
  }
  const pickers = debugSnapshot().balancers[0]?.pickersPublished ?? 0;
  if (pickers > 50) throw new Error(`skewless published ${pickers} pickers during a steady run`);
  for (const c of Object.values(clients)) c.close();
  registration.close();
  await xds.close(50);
  const summary = (rounds: RoundResult[]): PolicyResult => ({
    rps: median(rounds.map((r) => r.rps)),
    cpuUsPerCall: median(rounds.map((r) => r.cpuUsPerCall)),
  });
  const paired = (other: Policy) =>
    median(results.skewless.map((r, i) => r.rps / (results[other][i] as RoundResult).rps));
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
