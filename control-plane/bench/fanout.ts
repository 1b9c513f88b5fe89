/**
 * Control-plane fan-out benchmark (`make bench-control-plane`; a script, not a test).
 *
 * 1,000 ADS subscribers on real gRPC streams from a separate process, 5,000 endpoints over 100
 * services in 3 zones. Each round changes 10 services (a slice of a rollout) and measures the
 * time from the change entering the control plane to the LAST subscriber of those services
 * receiving it. Prints a summary, then as the last line one JSON object.
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import v8 from 'node:v8';
import { createLogger } from '@skewless/shared';
import { Command } from 'commander';
import { Registry } from 'prom-client';
import { createXdsServer } from '../src/index.ts';
import type { EndpointRecord, ServicePortEndpoints } from '../src/model.ts';

const options = new Command()
  .option('--subscribers <n>', 'ADS streams (one connection each)', Number, 1000)
  .option('--services <n>', 'services', Number, 100)
  .option('--endpoints-per-service <n>', 'endpoints per service', Number, 50)
  .option('--services-per-subscriber <n>', 'EDS resources each subscriber watches', Number, 5)
  .option('--rounds <n>', 'change rounds (200, so p99 is not just the worst round)', Number, 200)
  .option('--changed-per-round <n>', 'services changed per round', Number, 10)
  .option('--batch-window-ms <ms>', 'control-plane batching window', Number, 20)
  .option(
    '--subscriber-processes <n>',
    'processes the subscribers are spread over (pods do not share one event loop)',
    Number,
    2,
  )
  .parse()
  .opts<{
    subscribers: number;
    services: number;
    endpointsPerService: number;
    servicesPerSubscriber: number;
    rounds: number;
    changedPerRound: number;
    batchWindowMs: number;
    subscriberProcesses: number;
  }>();

const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const logger = createLogger('bench', 'warn');

function makeService(s: number, round: number, changed: boolean): ServicePortEndpoints {
  const endpoints: EndpointRecord[] = [];
  for (let e = 0; e < options.endpointsPerService; e += 1) {
    endpoints.push({
      address: `10.${s >> 8}.${s & 255}.${e + 1}`,
      // The changed endpoint carries the round in its port so subscribers recognize the change.
      port: changed && e === 0 ? 20000 + round : 8080,
      health: 'HEALTHY',
      zone: ZONES[e % ZONES.length]!,
      node: `node-${e % ZONES.length}`,
      pod: `svc-${s}-pod-${e}`,
      podNamespace: 'bench',
      weight: 1,
    });
  }
  const key = { namespace: 'bench', service: `svc-${s}`, port: 'grpc' };
  return { key, name: `bench/svc-${s}:grpc`, servicePort: 8080, endpoints };
}

/** Upper bound of the bucket holding quantile `q` of a prom-client histogram, in ms. */
async function histogramQuantileMs(registry: Registry, name: string, q: number): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const buckets = (metric?.values ?? [])
    .filter((v) => (v as { metricName?: string }).metricName === `${name}_bucket`)
    .map((v) => ({ le: Number(v.labels.le), count: v.value }));
  const byLe = new Map<number, number>();
  for (const b of buckets) byLe.set(b.le, (byLe.get(b.le) ?? 0) + b.count);
  const sorted = [...byLe].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  const hit = sorted.find(([, count]) => count >= q * total);
  return hit ? hit[0] * 1000 : Number.NaN;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const step = (label: string) => {
  const start = performance.now();
  process.stdout.write(`${label} ...`);
  return () => process.stdout.write(` ${((performance.now() - start) / 1000).toFixed(1)}s\n`);
};

let done = step(`control plane: ${options.services} services × ${options.endpointsPerService} endpoints`);
const registry = new Registry();
const server = createXdsServer({ logger, batchWindowMs: options.batchWindowMs, metrics: registry });
const services = Array.from({ length: options.services }, (_, s) => makeService(s, 0, false));
server.sink.replaceAll(services);
const port = await server.bind('127.0.0.1:0');
done();

let peakRss = process.memoryUsage().rss;
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

done = step(
  `${options.subscribers} subscribers connecting (${options.subscriberProcesses} separate processes, one connection each)`,
);
type ChildMessage = { type: string; round?: number; lastMs?: number; missing?: number; message?: string };
const perProcess = Math.ceil(options.subscribers / options.subscriberProcesses);
const children = Array.from({ length: options.subscriberProcesses }, (_, p) => {
  const firstIndex = p * perProcess;
  return fork(
    path.join(import.meta.dirname, 'fanout-subscribers.ts'),
    [
      JSON.stringify({
        target: `127.0.0.1:${port}`,
        firstIndex,
        subscribers: Math.min(perProcess, options.subscribers - firstIndex),
        services: services.map((s) => s.name),
        servicesPerSubscriber: options.servicesPerSubscriber,
      }),
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
});
const nextMessage = (child: ChildProcess, timeoutMs: number) =>
  new Promise<ChildMessage>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no word from a subscriber process in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (message: ChildMessage) => {
      if (message.type === 'error') return; // a subscriber's stream error shows as its missing round
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
  });
const fromAll = (timeoutMs: number) => Promise.all(children.map((child) => nextMessage(child, timeoutMs)));
for (const ready of await fromAll(120_000)) {
  if (ready.type !== 'ready') throw new Error(`subscribers not ready: ${JSON.stringify(ready)}`);
}
done();

done = step(`${options.rounds} rounds of ${options.changedPerRound} changed services`);
const latencies: number[] = [];
let timeouts = 0;
for (let round = 1; round <= options.rounds; round += 1) {
  const changed = new Set<number>();
  while (changed.size < options.changedPerRound) changed.add((round * 31 + changed.size * 17) % options.services);
  for (const s of changed) services[s] = makeService(s, round, true);
  const t0Ms = performance.timeOrigin + performance.now();
  server.sink.replaceAll(services);
  const changedNames = [...changed].map((s) => services[s]!.name);
  for (const child of children) child.send({ type: 'round', round, changed: changedNames, t0Ms, timeoutMs: 10_000 });
  const results = await fromAll(15_000);
  if (results.every((r) => r.type === 'round-done')) {
    latencies.push(Math.max(...results.map((r) => r.lastMs ?? Number.NEGATIVE_INFINITY)));
  } else {
    timeouts += 1;
  }
}
done();
clearInterval(rssTimer);
for (const child of children) child.send({ type: 'stop' });
await server.close(0);

latencies.sort((a, b) => a - b);
const serverPushP99Ms = await histogramQuantileMs(registry, 'skewless_xds_push_latency_seconds', 0.99);
const result = {
  subscribers: options.subscribers,
  endpoints: options.services * options.endpointsPerService,
  services: options.services,
  rounds: options.rounds,
  batchWindowMs: options.batchWindowMs,
  subscriberProcesses: options.subscriberProcesses,
  p50Ms: Number(percentile(latencies, 50).toFixed(1)),
  p99Ms: Number(percentile(latencies, 99).toFixed(1)),
  maxMs: Number((latencies.at(-1) ?? Number.NaN).toFixed(1)),
  timeouts,
  rssMb: Math.round(peakRss / 2 ** 20),
  /** The V8 heap cap this run had (make bench-control-plane sets the one we recommend). */
  heapLimitMb: Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20),
  serverPushP99Ms,
};
console.log(
  `\nchange → last subscriber: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms ` +
    `(includes the ${options.batchWindowMs} ms batching window); ${timeouts} rounds timed out; ` +
    `control-plane peak RSS ${result.rssMb} MB (targets: p99 ≤ 250 ms, RSS ≤ 300 MB)\n` +
    `server side alone (change accepted → response written, from its own histogram): p99 ≤ ${serverPushP99Ms} ms`,
);
console.log(JSON.stringify(result));
process.exit(timeouts > 0 ? 1 : 0);
