/**
 * Before the clock starts: wait until every channel is READY, or a first call through it succeeds,
 * so connection set-up is not measured as latency. Bounded by a timeout and a stop signal; never
 * throws (an unreachable target is data for the run, not a reason not to run).
 */
import * as grpc from '@grpc/grpc-js';
import type { EchoClient } from '@skewless/shared';

/** Whether every channel became ready within `timeoutMs`. */
export async function waitChannelsReady(
  clients: readonly EchoClient[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const ready = await Promise.all(clients.map((client) => channelReady(client, deadline, signal)));
  return ready.every(Boolean);
}

function channelReady(client: EchoClient, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    let probe: grpc.ClientUnaryCall | undefined;
    const finish = (ready: boolean) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      // A READY channel answers the probe at once: let it. Cancelling a call the balancer has just
      // picked would leave that pick counted as pending load on one endpoint for a while (our
      // client clears such picks every second), skewing the first second of the run.
      if (!ready) probe?.cancel();
      resolve(ready);
    };
    const onAbort = () => finish(false);
    if (signal?.aborted) return finish(false);
    signal?.addEventListener('abort', onAbort, { once: true });

    const channel = client.getChannel();
    const watch = () => {
      if (settled) return;
      // `true` starts connecting an IDLE channel.
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return finish(true);
      if (state === grpc.connectivityState.SHUTDOWN || Date.now() >= deadline) return finish(false);
      channel.watchConnectivityState(state, deadline, (error) => (error ? finish(false) : watch()));
    };
    // A balancer may answer calls before its channel state says READY (and vice versa): take the first.
    probe = client.Echo(
      { message: 'wait-ready', delay_ms: 0 },
      new grpc.Metadata({ waitForReady: true }),
      { deadline },
      (error) => {
        if (!error) finish(true);
      },
    );
    watch();
  });
}
