/**
 * The open-loop schedule: request `i` is due at `startMs + i × 1000/rate`, whatever happened to the
 * requests before it. Pure arithmetic over a clock reading, so the pacing is tested without timers;
 * the driver calls `takeDue(now)` from a timer and sends everything that came due since the last
 * tick in one batch (Node timers fire at best every ~1 ms, so at 2,000 rps a tick sends about two).
 */
export interface ScheduledRequest {
  readonly index: number;
  /** When the request should have gone out (ms, same clock as `startMs`): latency is measured from here. */
  readonly scheduledMs: number;
  /** False for warm-up requests: sent, not counted. */
  readonly measured: boolean;
  /** Second of the measured run it belongs to (by scheduled time); -1 during the warm-up. */
  readonly second: number;
}

export interface OpenLoopScheduleOptions {
  readonly startMs: number;
  readonly rate: number;
  readonly warmupS: number;
  readonly durationS: number;
}

export class OpenLoopSchedule {
  readonly intervalMs: number;
  /** Requests in the whole run, warm-up included. */
  readonly total: number;
  /** Requests scheduled in the warm-up; request `warmupCount` is the first measured one. */
  readonly warmupCount: number;
  /** Start of the measured run on the schedule's clock. */
  readonly measureStartMs: number;
  private readonly startMs: number;
  private readonly rate: number;
  private next = 0;
  private stopped = false;

  constructor(options: OpenLoopScheduleOptions) {
    this.startMs = options.startMs;
    this.rate = options.rate;
    this.intervalMs = 1000 / options.rate;
    this.warmupCount = Math.round(options.rate * options.warmupS);
    this.total = this.warmupCount + Math.round(options.rate * options.durationS);
    this.measureStartMs = this.startMs + this.warmupCount * this.intervalMs;
  }

  /** Requests taken so far. */
  get taken(): number {
    return this.next;
  }

  get done(): boolean {
    return this.stopped || this.next >= this.total;
  }

  /** When the next request is due, or undefined when the schedule is exhausted. */
  nextDueMs(): number | undefined {
    return this.done ? undefined : this.scheduledMs(this.next);
  }

  /** Every request due at or before `nowMs` not taken yet, in order. */
  takeDue(nowMs: number): ScheduledRequest[] {
    const due: ScheduledRequest[] = [];
    while (!this.done && this.scheduledMs(this.next) <= nowMs) {
      const index = this.next;
      const scheduledMs = this.scheduledMs(index);
      const measured = index >= this.warmupCount;
      // From the index, not the clock: floating-point times must not move a request across a second.
      const second = measured ? Math.floor((index - this.warmupCount) / this.rate) : -1;
      due.push({ index, scheduledMs, measured, second });
      this.next += 1;
    }
    return due;
  }

  /** Ends the schedule early (stop signal): nothing more is due. */
  stop(): void {
    this.stopped = true;
  }

  private scheduledMs(index: number): number {
    return this.startMs + index * this.intervalMs;
  }
}
