/**
 * `make bench-client`: per-pick cost of every strategy, then unary throughput through our policy
 * vs grpc-js round_robin and pick_first against the same backends, in one run. Prints a summary,
 * then as the LAST line one JSON object (machine-readable).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import { pickNs } from './bench-picks.ts';
import { measureThroughput } from './bench-throughput.ts';

const pick = {
  p2c: pickNs('p2c', false),
  p2cPeakEwma: pickNs('p2c-peak-ewma', false),
  p2cServerLoad: pickNs('p2c-server-load', false),
  roundRobin: pickNs('round-robin', false),
  random: pickNs('random', false),
  weightedRoundRobin: pickNs('weighted-round-robin', false),
  p2cZoneAffinity: pickNs('p2c', true),
  p2c1000Endpoints: pickNs('p2c', false, 1000),
};

const backends = spawn(process.execPath, [path.join(import.meta.dirname, 'bench-backends.ts'), '3'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const firstLine = readline.createInterface({ input: backends.stdout });
const [line] = (await once(firstLine, 'line')) as [string];
const { ports } = JSON.parse(line) as { ports: number[] };
let throughput: Awaited<ReturnType<typeof measureThroughput>>;
try {
  throughput = await measureThroughput({ ports, callsPerRound: 10_000, concurrency: 64, rounds: 9 });
} finally {
  backends.stdin.end();
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));
console.log('per-pick cost, median of 15 runs × 200k picks (9 endpoints unless noted):');
for (const [name, ns] of Object.entries(pick)) console.log(`  ${name.padEnd(20)} ${ns.toFixed(1).padStart(8)} ns`);
console.log(
  'unary throughput, one channel, 64 concurrent calls, 3 backends in another process (each run a fresh process, 10k calls; 9 rounds, order rotating; medians):',
);
for (const [name, r] of Object.entries(throughput.policies)) {
  console.log(
    `  ${name.padEnd(20)} ${r.rps.toFixed(0).padStart(8)} calls/s  ${r.cpuUsPerCall.toFixed(1).padStart(7)} µs client CPU per call`,
  );
}
console.log(
  `skewless / round_robin ${throughput.vsRoundRobin.toFixed(3)}, skewless / pick_first ${throughput.vsPickFirst.toFixed(3)} (median of per-round ratios)`,
);
console.log(
  JSON.stringify({
    pickNs: Object.fromEntries(Object.entries(pick).map(([k, v]) => [k, round(v)])),
    throughputRps: Object.fromEntries(Object.entries(throughput.policies).map(([k, v]) => [k, Math.round(v.rps)])),
    clientCpuUsPerCall: Object.fromEntries(
      Object.entries(throughput.policies).map(([k, v]) => [k, round(v.cpuUsPerCall)]),
    ),
    throughputVsRoundRobin: round(throughput.vsRoundRobin, 3),
    throughputVsPickFirst: round(throughput.vsPickFirst, 3),
  }),
);
process.exit(0);
