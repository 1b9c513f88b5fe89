/**
 * Mutable per-endpoint counters, owned by the balancer and shared by every picker it publishes.
 * Call hooks write them; pickers and the outlier detector read them.
 */
import { DEFAULT_PEAK_EWMA, PeakEwma, type PeakEwmaOptions } from './peak-ewma.ts';

export class EndpointStats {
  /** `host:port`, unique within a balancer. */
  readonly key: string;
  /** Calls started (grpc-js onCallStarted) and not yet ended. */
  inFlight = 0;
  /**
   * Picked but not yet started: grpc-js starts a call only after an async credentials step, so a
   * burst of picks would otherwise all see the same load. A pick that never starts (re-picked, or
   * cancelled first) would leak here, so the balancer zeroes this every second (see lb-policy.ts).
   */
  pending = 0;
  picks = 0;
  successes = 0;
  failures = 0;
  consecutiveFailures = 0;
  /** Counters of the current outlier-detection interval. */
  intervalSuccesses = 0;
  intervalFailures = 0;
  ejected = false;
  ejectedUntilMs = 0;
  /** Ejections so far; the next ejection lasts base × this (capped), decremented while healthy. */
  ejectionMultiplier = 0;
  ejectionsTotal = 0;
  /** Last value of the server-reported load trailer. */
  serverLoad = 0;
  readonly ewma: PeakEwma;

  constructor(key: string, nowMs: number, ewmaOptions: PeakEwmaOptions = DEFAULT_PEAK_EWMA) {
    this.key = key;
    this.ewma = new PeakEwma(nowMs, ewmaOptions);
  }

  /** Load-relevant outstanding calls: started plus picked-but-not-started. */
  outstanding(): number {
    return this.inFlight + this.pending;
  }

  picked(): void {
    this.picks += 1;
    this.pending += 1;
  }

  callStarted(): void {
    if (this.pending > 0) this.pending -= 1;
    this.inFlight += 1;
  }

  /** Records the end of a call; `failed` is the endpoint's fault (see call-outcome.ts). */
  callEnded(failed: boolean, latencyMs: number, nowMs: number): void {
    this.inFlight -= 1;
    this.ewma.observe(latencyMs, nowMs);
    if (failed) {
      this.failures += 1;
      this.intervalFailures += 1;
      this.consecutiveFailures += 1;
    } else {
      this.successes += 1;
      this.intervalSuccesses += 1;
      this.consecutiveFailures = 0;
    }
  }
}
