/**
 * Echo backends for the benchmark, in their own process so the client under test does not share
 * an event loop with them. Prints `{"ports":[...]}` once listening; exits when stdin closes.
 */
import * as grpc from '@grpc/grpc-js';
import { type EchoReply, type EchoRequest, echoGrpc } from '@skewless/shared';

const count = Number(process.argv[2] ?? 3);
const ports: number[] = [];
const servers: grpc.Server[] = [];
for (let i = 0; i < count; i++) {
  const server = new grpc.Server();
  const pod = `bench-${i}`;
  server.addService(echoGrpc().service, {
    Echo(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
      callback(null, { message: call.request.message ?? '', pod, zone: ['a', 'b', 'c'][i % 3] ?? '', node: '' });
    },
    StreamEcho(call: grpc.ServerWritableStream<unknown, EchoReply>) {
      call.end();
    },
  });
  ports.push(
    await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    ),
  );
  servers.push(server);
}
process.stdout.write(`${JSON.stringify({ ports })}\n`);
process.stdin.resume();
process.stdin.on('close', () => {
  for (const s of servers) s.forceShutdown();
  process.exit(0);
});
// Never outlive a crashed parent by more than the benchmark's own bound.
setTimeout(() => process.exit(0), 300_000).unref();
