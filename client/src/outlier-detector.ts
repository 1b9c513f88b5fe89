/**
 * Outlier ejection (Envoy outlier_detection / gRPC A50): eject an endpoint after N consecutive
 * failures, or when its failure percentage over an interval crosses a threshold. An ejection
 * lasts base × multiplier (capped) and the multiplier decays while the endpoint behaves
 * (ejection backoff). Ejection happens only while the ejected share is below
 * maxEjectionPercent, exactly as Envoy and gRPC check it (`ejected% < max%` before ejecting).
 *
 * Pure state over EndpointStats with an injected clock; the balancer calls `onCallEnded` from the
 * call hook and `sweep` on its interval timer, and rebuilds its picker when either returns true.
 */
import type { EndpointStats } from './endpoint-stats.ts';

export interface FailurePercentageConfig {
  readonly thresholdPercent: number;
  readonly minimumHosts: number;
  readonly requestVolume: number;
}

export interface OutlierDetectionConfig {
  readonly intervalMs: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
  /** 0 disables consecutive-failure ejection. */
  readonly consecutiveFailures: number;
  readonly failurePercentage: FailurePercentageConfig | null;
}

export class OutlierDetector {
  private readonly config: OutlierDetectionConfig;
  private endpoints: readonly EndpointStats[] = [];

  constructor(config: OutlierDetectionConfig) {
    this.config = config;
  }

  /** The current endpoint set; ejection limits are computed over it. */
  setEndpoints(endpoints: readonly EndpointStats[]): void {
    this.endpoints = endpoints;
  }

  ejectedCount(): number {
    let n = 0;
    for (const e of this.endpoints) if (e.ejected) n++;
    return n;
  }

  private mayEject(): boolean {
    const total = this.endpoints.length;
    return total > 0 && this.ejectedCount() * 100 < this.config.maxEjectionPercent * total;
  }

  private eject(stats: EndpointStats, nowMs: number): void {
    stats.ejectionMultiplier += 1;
    const durationMs = Math.min(
      this.config.baseEjectionMs * stats.ejectionMultiplier,
      Math.max(this.config.baseEjectionMs, this.config.maxEjectionMs),
    );
    stats.ejected = true;
    stats.ejectedUntilMs = nowMs + durationMs;
    stats.ejectionsTotal += 1;
  }

  /** After a call ended on `stats`; true when an ejection happened. */
  onCallEnded(stats: EndpointStats, nowMs: number): boolean {
    const threshold = this.config.consecutiveFailures;
    if (threshold <= 0 || stats.ejected || stats.consecutiveFailures < threshold) return false;
    if (!this.mayEject()) return false;
    this.eject(stats, nowMs);
    stats.consecutiveFailures = 0;
    return true;
  }

  /** Interval work: evaluate failure percentage, then un-eject expired endpoints; true on any change. */
  sweep(nowMs: number): boolean {
    let changed = false;
    const fp = this.config.failurePercentage;
    if (fp) {
      const withVolume = this.endpoints.filter((e) => e.intervalSuccesses + e.intervalFailures >= fp.requestVolume);
      if (withVolume.length >= fp.minimumHosts) {
        for (const e of withVolume) {
          const total = e.intervalSuccesses + e.intervalFailures;
          if (!e.ejected && (100 * e.intervalFailures) / total >= fp.thresholdPercent && this.mayEject()) {
            this.eject(e, nowMs);
            changed = true;
          }
        }
      }
    }
    // Then, as in gRPC A50: un-eject expired endpoints, decay the multiplier of healthy ones.
    for (const e of this.endpoints) {
      e.intervalSuccesses = 0;
      e.intervalFailures = 0;
      if (e.ejected && nowMs >= e.ejectedUntilMs) {
        e.ejected = false;
        changed = true;
      } else if (!e.ejected && e.ejectionMultiplier > 0) {
        e.ejectionMultiplier -= 1;
      }
    }
    return changed;
  }

  /** The earliest time an ejection expires, for scheduling; Infinity when none is ejected. */
  nextExpiryMs(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.endpoints) if (e.ejected && e.ejectedUntilMs < next) next = e.ejectedUntilMs;
    return next;
  }
}
