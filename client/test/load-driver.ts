/**
 * Drives unary Echo calls through a set of clients: each client keeps `concurrency` calls in
 * flight until it has sent `perClient` calls or `maxMs` passed, whichever comes first (bounded in
 * count and time). Counts replies per backend pod and every failure with its message.
 */
import { Metadata } from '@grpc/grpc-js';
import type { EchoClient, EchoReply } from '@skewless/shared';

export interface LoadResult {
  sent: number;
  ok: number;
  readonly failures: string[];
  /** Replies per client, by zone of the answering backend. */
  readonly zonesByClient: Map<string, number>[];
  readonly podsByClient: Map<string, number>[];
}

export interface LoadOptions {
  readonly perClient: number;
  readonly concurrency: number;
  readonly maxMs: number;
  readonly delayMs?: number;
  readonly deadlineMs?: number;
  /** Called once after about this many calls in total (to inject an event mid-run). */
  readonly midRun?: { afterCalls: number; action: () => Promise<void> | void };
}

export async function drive(clients: readonly EchoClient[], options: LoadOptions): Promise<LoadResult> {
  const stopAt = Date.now() + options.maxMs;
  const result: LoadResult = {
    sent: 0,
    ok: 0,
    failures: [],
    zonesByClient: clients.map(() => new Map()),
    podsByClient: clients.map(() => new Map()),
  };
  let midRunDone: Promise<void> | undefined;
  const call = (client: EchoClient) =>
    new Promise<EchoReply>((resolve, reject) => {
      const deadline = new Date(Date.now() + (options.deadlineMs ?? 10_000));
      client.Echo({ message: 'x', delay_ms: options.delayMs ?? 0 }, new Metadata(), { deadline }, (error, reply) =>
        error || !reply ? reject(error ?? new Error('empty reply')) : resolve(reply),
      );
    });
  const worker = async (index: number, quota: { left: number }) => {
    const client = clients[index] as EchoClient;
    while (quota.left > 0 && Date.now() < stopAt) {
      quota.left -= 1;
      result.sent += 1;
      if (options.midRun && !midRunDone && result.sent >= options.midRun.afterCalls)
        midRunDone = Promise.resolve(options.midRun.action());
      try {
        const reply = await call(client);
        result.ok += 1;
        const zones = result.zonesByClient[index] as Map<string, number>;
        zones.set(reply.zone, (zones.get(reply.zone) ?? 0) + 1);
        const pods = result.podsByClient[index] as Map<string, number>;
        pods.set(reply.pod, (pods.get(reply.pod) ?? 0) + 1);
      } catch (error) {
        result.failures.push((error as Error).message);
      }
    }
  };
  await Promise.all(
    clients.map((_, index) => {
      const quota = { left: options.perClient };
      return Promise.all(Array.from({ length: options.concurrency }, () => worker(index, quota)));
    }),
  );
  await midRunDone;
  return result;
}
