/**
 * One throughput measurement in a fresh process: one channel with the given policy, a warm-up,
 * then `calls` unary calls with `concurrency` in flight. Prints `{"rps","cpuUsPerCall"}`.
 * A fresh process per measurement keeps policies from sharing a heap, JIT state or event loop.
 */
import * as grpc from '@grpc/grpc-js';
import { createLogger, type EchoClient, echoGrpc } from '@skewless/shared';
import { debugSnapshot, register } from '../src/index.ts';

const [policy = '', portsArg = '', controlPlane = '', callsArg = '10000', concurrencyArg = '64'] =
  process.argv.slice(2);
const ports = portsArg.split(',').map(Number);
const calls = Number(callsArg);
const concurrency = Number(concurrencyArg);
// Bounded in time whatever happens: the parent also kills us after its own timeout.
setTimeout(() => process.exit(2), 120_000).unref();

const creds = grpc.credentials.createInsecure();
const { Client } = echoGrpc();
const ipv4 = `ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
const withPolicy = (name: string) => ({
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ [name]: {} }] }),
});
let client: EchoClient;
if (policy === 'skewless') {
  register({ controlPlane, zone: 'a' }, { logger: createLogger('bench-worker', 'silent') });
  client = new Client('skewless:///default/bench:grpc', creds);
} else {
  client = new Client(ipv4, creds, withPolicy(policy));
}

async function run(n: number): Promise<{ rps: number; cpuUsPerCall: number }> {
  let left = n;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left > 0) {
        left -= 1;
        await new Promise<void>((resolve, reject) => client.Echo({ message: 'b' }, (e) => (e ? reject(e) : resolve())));
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  return { rps: n / seconds, cpuUsPerCall: (cpu.user + cpu.system) / n };
}

await run(3_000);
if (policy === 'skewless') {
  const ready = debugSnapshot().balancers[0]?.endpoints.filter((e) => e.connectivity === 'READY').length ?? 0;
  if (ready !== ports.length) throw new Error(`skewless channel has ${ready}/${ports.length} endpoints ready`);
}
const result = await run(calls);
if (policy === 'skewless') {
  const pickers = debugSnapshot().balancers[0]?.pickersPublished ?? 0;
  if (pickers > 50) throw new Error(`skewless published ${pickers} pickers during a steady run`);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
