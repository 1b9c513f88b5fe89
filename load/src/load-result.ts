/**
 * What one `skewless load` run reports: printed by the CLI as one JSON line, returned by `runLoad`.
 * Times are milliseconds (microsecond resolution), counts are calls.
 */
import type { CpuPriority } from '@skewless/shared';
import type { LoadMode } from './load-config.ts';

/** Code of a scheduled call that was not sent because too many were in flight. */
export const CLIENT_OVERLOADED = 'CLIENT_OVERLOADED';

/** One second of the measured run, by the calls' scheduled send time. */
export interface TimelinePoint {
  /** Second index from the start of the measured run. */
  readonly t: number;
  /** Calls scheduled in this second (CLIENT_OVERLOADED included) that have ended. */
  readonly requests: number;
  readonly errors: number;
  /** Successful calls by answering pod. */
  readonly perPod: Readonly<Record<string, number>>;
  /** 99th percentile latency of this second's successful calls; absent when there were none. */
  readonly p99Ms?: number;
  /**
   * This second's latency histogram (µs), HdrHistogram's compressed base64: windows of seconds (e.g.
   * "during the rollout") add these up for exact percentiles. Absent when there were no successes.
   */
  readonly latencyHdr?: string;
  /**
   * How late this second's calls went out against their schedule (µs, same encoding): the client's own
   * wait for its event loop, which an open-loop latency (timed from the schedule) includes.
   */
  readonly sendLagHdr?: string;
}

export interface PodSummary {
  readonly pod: string;
  readonly zone: string;
  readonly node: string;
  /** Successful calls this pod answered (a failed call has no pod). */
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** This pod's latency histogram (HdrHistogram, µs, compressed base64), so clients' views can be added up. */
  readonly latencyHdr?: string;
}

/** Over successful calls; null when there were none. */
export interface LatencySummary {
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly p999: number | null;
  readonly max: number | null;
  readonly mean: number | null;
}

export interface LoadMetrics {
  /** Busiest pod over the mean, over the pods that answered (plus `expectedPods` as zeros). 1 = even. */
  readonly maxOverMean: number | null;
  /** Coefficient of variation (population sd / mean) over the same pods. 0 = even. */
  readonly cv: number | null;
  /** Share of successful calls answered in the client's own zone; null when the zone is unknown. */
  readonly sameZoneShare: number | null;
}

/** The shared ADS stream's state at the end of a skewless-mode run. */
export interface ControlPlaneSummary {
  readonly address: string;
  readonly connected: boolean;
  readonly acks: number;
  readonly nacks: number;
  readonly streamsStarted: number;
}

export interface LoadResult {
  readonly mode: LoadMode;
  readonly target: string;
  /** The client's zone: configured, else learned from the control plane; null when unknown. */
  readonly zone: string | null;
  /** POD_NAME or the hostname. */
  readonly client: string;
  /** ISO time the measured run started. */
  readonly startedAt: string;
  /** Measured seconds: the configured duration, or less when stopped early. */
  readonly durationS: number;
  readonly rate: number;
  readonly channels: number;
  readonly warmupS: number;
  /** A stop signal ended the run before its duration. */
  readonly stoppedEarly: boolean;
  /** Whether the channels were READY before the clock started, and how long that took. */
  readonly waitReady: { readonly ready: boolean; readonly waitedMs: number };
  readonly totals: {
    /** Scheduled calls in the measured run: ok + errors. */
    readonly requests: number;
    readonly ok: number;
    readonly errors: number;
    /** gRPC status names, plus CLIENT_OVERLOADED for calls not sent. */
    readonly byCode: Readonly<Record<string, number>>;
  };
  /** Pods that answered, busiest first. */
  readonly perPod: readonly PodSummary[];
  /** Successful calls by the answering pod's zone. */
  readonly perZone: Readonly<Record<string, number>>;
  /** From the scheduled send time to the answer (coordinated-omission aware). */
  readonly latencyMs: LatencySummary;
  /** How late the generator sent calls against their schedule: its own health. */
  readonly sendLagMs: { readonly p50: number | null; readonly p99: number | null; readonly max: number | null };
  readonly timeline: readonly TimelinePoint[];
  readonly metrics: LoadMetrics;
  /** Skewless mode only. */
  readonly controlPlane?: ControlPlaneSummary;
  /** Skewless mode only: the zone routing the client used at the end of the run, and its inputs. */
  readonly zoneRouting?: ZoneRoutingSummary;
  /** `skewless load --nice` only (the CLI adds it): the niceness asked for and whether the process got it. */
  readonly cpuPriority?: CpuPriority;
}

export interface ZoneRoutingSummary {
  readonly localZone: string | null;
  /** `none`, `local-direct` or `local-residual` (Envoy's zone-aware routing modes). */
  readonly mode: string;
  /** Share of calls kept in the local zone (0–1) in `local-residual` mode, else null. */
  readonly localShare: number | null;
  /** The calling fleet's relative size per zone, and where it came from (control-plane, config, equal). */
  readonly clientShares: Readonly<Record<string, number>>;
  readonly clientSharesSource: string;
}
