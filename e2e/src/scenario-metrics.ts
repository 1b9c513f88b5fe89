/**
 * From load clients' results to a scenario's numbers: the sums over clients (per pod, per zone, per
 * second), each load group's metrics, latency over a window of seconds (exact, from the clients'
 * per-second histograms) and the assertions of a scenario file checked against the metrics.
 */
import type { LoadResult } from '@skewless/load';
import { build, decodeFromCompressedBase64 } from 'hdr-histogram-js';
import type { EchoPod } from './cluster-session.ts';
import type { ScenarioAssertion } from './scenario-file.ts';

export interface Assertion {
  readonly name: string;
  readonly threshold: string;
  readonly value: number | string;
  readonly passed: boolean;
}

export interface PodRow {
  pod: string;
  zone: string;
  node: string;
  requests: number;
  errors: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface TimelineRow {
  t: number;
  requests: number;
  errors: number;
  /** Successful calls by answering pod in that second. */
  perPod?: Record<string, number>;
  /** 99th percentile latency of that second over every client. */
  p99Ms?: number;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly driver: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly perPod: PodRow[];
  readonly perZone: Record<string, Record<string, number>>;
  readonly totals: { requests: number; errors: number; byCode: Record<string, number> };
  readonly metrics: Record<string, number | null>;
  readonly assertions: Assertion[];
  readonly timeline: TimelineRow[];
  readonly details?: unknown;
}

export interface Summary {
  perPod: PodRow[];
  perZone: Record<string, Record<string, number>>;
  totals: ScenarioResult['totals'];
  metrics: { maxOverMean: number | null; cv: number | null; sameZoneShare: number | null };
  timeline: TimelineRow[];
}

/** Adds the clients' results up; pods that answered nothing still count (as zeros) in the skew. */
export function summarize(results: readonly LoadResult[], pods: readonly EchoPod[]): Summary {
  const perPod = new Map<string, PodRow>();
  const row = (pod: string, zone: string, node: string): PodRow => ({
    pod,
    zone,
    node,
    requests: 0,
    errors: 0,
    p50Ms: null,
    p99Ms: null,
  });
  for (const pod of pods) perPod.set(pod.name, row(pod.name, pod.zone, pod.node));
  const perZone: Record<string, Record<string, number>> = {};
  const byCode: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  let sameZone = 0;
  let zoned = 0;
  const seconds = new Map<number, { row: TimelineRow; hdrs: string[] }>();
  const podHdrs = new Map<string, string[]>();
  for (const r of results) {
    requests += r.totals.requests;
    errors += r.totals.errors;
    for (const [code, n] of Object.entries(r.totals.byCode)) byCode[code] = (byCode[code] ?? 0) + n;
    for (const p of r.perPod) {
      const entry = perPod.get(p.pod) ?? row(p.pod, p.zone, p.node);
      entry.requests += p.requests;
      // Exact over every client when they sent their histograms (k6 does not): the worst client's otherwise.
      if (p.latencyHdr) podHdrs.set(p.pod, [...(podHdrs.get(p.pod) ?? []), p.latencyHdr]);
      else {
        entry.p50Ms = Math.max(entry.p50Ms ?? 0, p.p50Ms);
        entry.p99Ms = Math.max(entry.p99Ms ?? 0, p.p99Ms);
      }
      perPod.set(p.pod, entry);
      if (r.zone) {
        const zoneRow = perZone[r.zone] ?? {};
        zoneRow[p.zone] = (zoneRow[p.zone] ?? 0) + p.requests;
        perZone[r.zone] = zoneRow;
        zoned += p.requests;
        if (p.zone === r.zone) sameZone += p.requests;
      }
    }
    for (const point of r.timeline) {
      const entry = seconds.get(point.t) ?? { row: { t: point.t, requests: 0, errors: 0, perPod: {} }, hdrs: [] };
      entry.row.requests += point.requests;
      entry.row.errors += point.errors;
      const counts = entry.row.perPod ?? {};
      for (const [pod, n] of Object.entries(point.perPod)) counts[pod] = (counts[pod] ?? 0) + n;
      if (point.latencyHdr) entry.hdrs.push(point.latencyHdr);
      seconds.set(point.t, entry);
    }
  }
  for (const [pod, hdrs] of podHdrs) {
    const entry = perPod.get(pod);
    if (!entry) continue;
    const [p50, p99] = [percentileOf(hdrs, 50), percentileOf(hdrs, 99)];
    // A client without a histogram for this pod (k6 in the same group) still counts by its worst value.
    if (p50 !== null) entry.p50Ms = Math.max(entry.p50Ms ?? 0, p50);
    if (p99 !== null) entry.p99Ms = Math.max(entry.p99Ms ?? 0, p99);
  }
  const timeline = [...seconds.values()]
    .sort((a, b) => a.row.t - b.row.t)
    .map(({ row: point, hdrs }) => {
      const p99 = percentileOf(hdrs, 99);
      return p99 === null ? point : { ...point, p99Ms: p99 };
    });
  // Only pods of the Deployment count in the skew (a restarted pod's predecessor may have served too).
  const counted =
    pods.length > 0 ? pods.map((p) => perPod.get(p.name)?.requests ?? 0) : [...perPod.values()].map((p) => p.requests);
  const { maxOverMean, cv } = evenness(counted);
  return {
    perPod: [...perPod.values()],
    perZone,
    totals: { requests, errors, byCode },
    metrics: { maxOverMean, cv, sameZoneShare: zoned > 0 ? sameZone / zoned : null },
    timeline,
  };
}

/** Busiest over mean and the coefficient of variation; null when nothing was counted. */
export function evenness(counts: readonly number[]): { maxOverMean: number | null; cv: number | null } {
  const mean = counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length);
  if (!(mean > 0)) return { maxOverMean: null, cv: null };
  const sd = Math.sqrt(counts.reduce((a, b) => a + (b - mean) ** 2, 0) / counts.length);
  return { maxOverMean: Math.max(...counts) / mean, cv: sd / mean };
}

/**
 * A percentile (ms) over the clients' seconds `t` (timeline clock) for which `inWindow(t)` holds, from
 * their per-second histograms added up; null when no call succeeded in the window. `of` picks the
 * histogram: the calls' latency (default) or how late they went out (`sendLagHdr`).
 */
export function windowPercentile(
  results: readonly LoadResult[],
  percentile: number,
  inWindow: (t: number) => boolean = () => true,
  of: 'latencyHdr' | 'sendLagHdr' = 'latencyHdr',
): number | null {
  const hdrs = results.flatMap((r) => r.timeline.filter((p) => p[of] && inWindow(p.t)).map((p) => p[of] as string));
  return percentileOf(hdrs, percentile);
}

function percentileOf(hdrs: readonly string[], percentile: number): number | null {
  if (hdrs.length === 0) return null;
  const total = build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true });
  for (const hdr of hdrs) total.add(decodeFromCompressedBase64(hdr));
  return total.totalCount === 0 ? null : Math.round(total.getValueAtPercentile(percentile)) / 1000;
}

/**
 * The metrics of one load group (named `<group>.<metric>` in scenario files). `pods` are the echo pods
 * the skew counts over.
 */
export function groupMetrics(results: readonly LoadResult[], summary: Summary): Record<string, number | null> {
  const podsPerClient = results.map((r) => r.perPod.filter((p) => p.requests > 0).length);
  const clientLocal = results.map((r) => r.metrics.sameZoneShare).filter((v): v is number => v !== null);
  // Each client's quietest second of answered calls (the last, partial second left out).
  const answered = results.flatMap((r) =>
    r.timeline.slice(0, Math.max(1, Math.floor(r.durationS))).map((p) => sum(Object.values(p.perPod))),
  );
  const streams = results.map((r) => r.controlPlane?.streamsStarted).filter((n): n is number => n !== undefined);
  const acks = results.map((r) => r.controlPlane?.acks).filter((n): n is number => n !== undefined);
  return {
    requests: summary.totals.requests,
    errors: summary.totals.errors,
    clients: results.length,
    maxOverMean: summary.metrics.maxOverMean,
    cv: summary.metrics.cv,
    sameZoneShare: summary.metrics.sameZoneShare,
    minClientSameZoneShare: clientLocal.length > 0 ? Math.min(...clientLocal) : null,
    podsAnswered: summary.perPod.filter((p) => p.requests > 0).length,
    minPodsPerClient: podsPerClient.length > 0 ? Math.min(...podsPerClient) : null,
    maxPodsPerClient: podsPerClient.length > 0 ? Math.max(...podsPerClient) : null,
    zonesAnswered: new Set(summary.perPod.filter((p) => p.requests > 0).map((p) => p.zone)).size,
    p50Ms: windowPercentile(results, 50),
    p99Ms: windowPercentile(results, 99),
    minAnsweredPerSecond: answered.length > 0 ? Math.min(...answered) : null,
    minStreamsStarted: streams.length > 0 ? Math.min(...streams) : null,
    meanPushesAccepted: acks.length > 0 ? sum(acks) / acks.length : null,
    clientsConnectedAtEnd: results.filter((r) => r.controlPlane?.connected).length,
    // Load clients that got their raised CPU priority (`--nice`); the rest measured with their own delay in.
    clientsAtLoadNice: results.filter((r) => r.cpuPriority?.applied).length,
  };
}

/** Checks a scenario file's assertions against the measured metrics; a metric not measured fails. */
export function checkAssertions(
  assertions: readonly ScenarioAssertion[],
  metrics: Readonly<Record<string, number | null>>,
): Assertion[] {
  const bound = (value: number | string, factor: number) =>
    typeof value === 'number'
      ? { value, text: String(value) }
      : {
          value: metrics[value] === null || metrics[value] === undefined ? null : (metrics[value] as number) * factor,
          text: `${factor === 1 ? '' : `${factor} × `}${value} (${formatValue(metrics[value])})`,
        };
  return assertions.map((a) => {
    const value = metrics[a.metric];
    const checks: { text: string; passed: boolean }[] = [];
    if (a.min !== undefined) {
      const b = bound(a.min, a.factor);
      checks.push({ text: `≥ ${b.text}`, passed: typeof value === 'number' && b.value !== null && value >= b.value });
    }
    if (a.max !== undefined) {
      const b = bound(a.max, a.factor);
      checks.push({ text: `≤ ${b.text}`, passed: typeof value === 'number' && b.value !== null && value <= b.value });
    }
    const name = a.why ? `${a.metric} — ${a.why}` : a.metric;
    return {
      name,
      threshold: checks.map((c) => c.text).join(' and '),
      value: typeof value === 'number' ? round(value) : value === null ? 'nothing measured' : 'not a metric here',
      passed: checks.every((c) => c.passed),
    };
  });
}

function formatValue(value: number | null | undefined): string {
  return typeof value === 'number' ? String(round(value)) : 'not measured';
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
