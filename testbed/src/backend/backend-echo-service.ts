/**
 * The Echo service of the instrumented backend: each call draws its faults once, waits (injected
 * latency, then the request's own delay_ms), burns CPU, then answers with the pod's identity or
 * fails with the injected code. Call accounting (metrics, in-flight) is the caller's, through `begin`.
 */
import type * as grpc from '@grpc/grpc-js';
import type { EchoReply, EchoRequest, StreamEchoRequest } from '@skewless/shared';
import type { CallPlan } from './backend-faults.ts';
import type { BackendIdentity } from './backend-metrics.ts';

export const ECHO_METHODS = ['Echo', 'StreamEcho'] as const;
export type EchoMethod = (typeof ECHO_METHODS)[number];

/** setTimeout's ceiling; longer delays would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

export interface EchoBehaviour {
  readonly identity: BackendIdentity;
  /** This call's latency, CPU work and injected failure. */
  plan(): CallPlan;
  /** Marks a call started; the returned function ends it with its status name (only the first end counts). */
  begin(method: EchoMethod): (code: string) => void;
}

export function echoImplementation(behaviour: EchoBehaviour): grpc.UntypedServiceImplementation {
  const { identity } = behaviour;
  const failure = (error: NonNullable<CallPlan['error']>) => ({
    code: error.code,
    details: `injected ${error.name} from pod ${identity.pod}`,
  });
  return {
    Echo(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
      const end = behaviour.begin('Echo');
      const plan = behaviour.plan();
      const timer = setTimeout(
        () => {
          burnCpu(plan.cpuWorkMs);
          if (plan.error) {
            end(plan.error.name);
            callback(failure(plan.error));
          } else {
            end('OK');
            callback(null, { message: call.request.message ?? '', ...identity });
          }
        },
        Math.min(plan.delayMs + (call.request.delay_ms ?? 0), MAX_TIMER_MS),
      );
      call.on('cancelled', () => {
        clearTimeout(timer);
        end(cancelledCode(call));
      });
    },

    StreamEcho(call: grpc.ServerWritableStream<StreamEchoRequest, EchoReply>) {
      const end = behaviour.begin('StreamEcho');
      const plan = behaviour.plan();
      const count = call.request.count ?? 0;
      const intervalMs = Math.min(call.request.interval_ms ?? 0, MAX_TIMER_MS);
      const send = (sent: number) => {
        if (sent >= count) {
          end('OK');
          call.end();
          return;
        }
        call.write({ message: call.request.message ?? '', ...identity });
        timer = setTimeout(() => send(sent + 1), intervalMs);
      };
      // Faults delay the first message: what a client sees of a slow or cold server stream.
      let timer = setTimeout(
        () => {
          burnCpu(plan.cpuWorkMs);
          if (plan.error) {
            end(plan.error.name);
            call.emit('error', failure(plan.error));
          } else {
            send(0);
          }
        },
        Math.min(plan.delayMs, MAX_TIMER_MS),
      );
      call.on('cancelled', () => {
        clearTimeout(timer);
        end(cancelledCode(call));
      });
    },
  };
}

/** A call cancelled after its deadline counts as DEADLINE_EXCEEDED, any other as CANCELLED. */
function cancelledCode(call: { getDeadline(): grpc.Deadline }): string {
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(deadlineMs) && Date.now() >= deadlineMs ? 'DEADLINE_EXCEEDED' : 'CANCELLED';
}

/** Busy-waits, blocking the event loop as CPU-bound work does: concurrent calls queue behind it. */
export function burnCpu(ms: number): void {
  if (ms <= 0) return;
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}
