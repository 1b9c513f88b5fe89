/**
 * The grpc-js Picker the balancer publishes: immutable, built on every state change. A pick draws
 * from the PickPlan, delegates to that endpoint's leaf picker for the subchannel, and attaches
 * call hooks that feed the endpoint's counters (in-flight, latency, outcome). Per pick it
 * allocates only the result object and its end hook (which must capture the start time).
 */
import { experimental, type Metadata } from '@grpc/grpc-js';
import { isEndpointFailure } from './call-outcome.ts';
import type { EndpointStats } from './endpoint-stats.ts';
import { SERVER_LOAD_TRAILER } from './load-server-reported.ts';
import type { PickPlan } from './pick-plan.ts';
import type { Clock } from './random.ts';

export interface PickTarget {
  readonly picker: experimental.Picker;
  readonly stats: EndpointStats;
}

export type CallEndListener = (stats: EndpointStats) => void;

const QUEUE: experimental.PickResult = {
  pickResultType: experimental.PickResultType.QUEUE,
  subchannel: null,
  status: null,
  onCallStarted: null,
  onCallEnded: null,
};

export class SkewlessPicker implements experimental.Picker {
  private readonly plan: PickPlan;
  private readonly targets: readonly PickTarget[];
  private readonly now: Clock;
  private readonly onEnded: CallEndListener;
  private readonly readServerLoad: boolean;

  constructor(
    plan: PickPlan,
    targets: readonly PickTarget[],
    now: Clock,
    onEnded: CallEndListener,
    readServerLoad: boolean,
  ) {
    this.plan = plan;
    this.targets = targets;
    this.now = now;
    this.onEnded = onEnded;
    this.readServerLoad = readServerLoad;
  }

  pick(args: experimental.PickArgs): experimental.PickResult {
    const index = this.plan.pick();
    if (index < 0) return QUEUE;
    const target = this.targets[index] as PickTarget;
    const result = target.picker.pick(args);
    if (result.pickResultType !== experimental.PickResultType.COMPLETE) return result;
    const stats = target.stats;
    stats.picked();
    const now = this.now;
    const onEnded = this.onEnded;
    const readServerLoad = this.readServerLoad;
    let startedAt = 0;
    return {
      pickResultType: experimental.PickResultType.COMPLETE,
      subchannel: result.subchannel,
      status: null,
      // Called by grpc-js only once the call really started on this subchannel, and onCallEnded
      // only after that: a pick that is retried never touches the counters.
      onCallStarted: () => {
        startedAt = now();
        stats.callStarted();
      },
      onCallEnded: (code: number, _details: string, metadata: Metadata) => {
        const end = now();
        if (readServerLoad) {
          const reported = Number(metadata?.get(SERVER_LOAD_TRAILER)[0]);
          if (Number.isFinite(reported) && reported >= 0) stats.serverLoad = reported;
        }
        stats.callEnded(isEndpointFailure(code), end - startedAt, end);
        onEnded(stats);
      },
    };
  }
}
