/**
 * Peak-EWMA round-trip estimate (Finagle, Linkerd, tower): a slower response replaces the estimate
 * at once (the "peak"), faster ones pull it down exponentially. The estimate also decays toward
 * zero while no response arrives, so an idle endpoint becomes attractive again.
 */

export interface PeakEwmaOptions {
  /** Estimate before the first response (Linkerd's default RTT is 30 ms). */
  defaultRttMs: number;
  /** Time constant of the exponential decay (Linkerd: 10 s). */
  decayMs: number;
}

export const DEFAULT_PEAK_EWMA: PeakEwmaOptions = { defaultRttMs: 30, decayMs: 10_000 };

export class PeakEwma {
  private valueMs: number;
  private updatedAtMs: number;
  private readonly decayMs: number;

  constructor(nowMs: number, options: PeakEwmaOptions = DEFAULT_PEAK_EWMA) {
    this.valueMs = options.defaultRttMs;
    this.updatedAtMs = nowMs;
    this.decayMs = options.decayMs;
  }

  /** The decayed estimate at `nowMs`; does not mutate, so pickers may call it freely. */
  estimateMs(nowMs: number): number {
    const elapsed = nowMs - this.updatedAtMs;
    return elapsed <= 0 ? this.valueMs : this.valueMs * Math.exp(-elapsed / this.decayMs);
  }

  observe(rttMs: number, nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.updatedAtMs);
    const decay = Math.exp(-elapsed / this.decayMs);
    this.valueMs = rttMs > this.valueMs ? rttMs : this.valueMs * decay + rttMs * (1 - decay);
    this.updatedAtMs = nowMs;
  }
}
