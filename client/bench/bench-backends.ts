/**
 * Echo backends for the benchmark, in their own process so the client under test does not share
 * an event loop with them. Prints `{"ports":[...]}` once listening; exits when stdin closes.
 */
import { startEchoServer } from '@skewless/testbed';

const count = Number(process.argv[2] ?? 3);
const servers = await Promise.all(
  Array.from({ length: count }, (_, i) => startEchoServer({ pod: `bench-${i}`, zone: ['a', 'b', 'c'][i % 3] ?? '' })),
);
const ports = servers.map((s) => s.port);
process.stdout.write(`${JSON.stringify({ ports })}\n`);
process.stdin.resume();
process.stdin.on('close', () => {
  for (const s of servers) s.close();
  process.exit(0);
});
// Never outlive a crashed parent by more than the benchmark's own bound.
setTimeout(() => process.exit(0), 300_000).unref();
