/**
 * Counts and latency histograms of the measured calls: overall, per answering pod and per second.
 * Latencies go into HdrHistograms in microseconds (3 significant digits) and come out in ms.
 */

import type { EchoReply } from '@skewless/shared';
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { spread } from './load-metrics.ts';
import type { LatencySummary, PodSummary, TimelinePoint } from './load-result.ts';

interface PodCounts {
  readonly zone: string;
  readonly node: string;
  requests: number;
  readonly latency: Histogram;
}

interface Second {
  requests: number;
  errors: number;
  readonly perPod: Map<string, number>;
  /** Created on the second's first success. */
  latency?: Histogram;
  /** How late this second's calls went out against their schedule; created on its first send. */
  sendLag?: Histogram;
}

/** Empty identity fields would make keys nobody can read. */
const UNKNOWN = 'unknown';

export class LoadRecorder {
  private readonly latency = newHistogram();
  private readonly sendLag = newHistogram();
  private readonly pods = new Map<string, PodCounts>();
  private readonly zones = new Map<string, number>();
  private readonly codes = new Map<string, number>();
  private readonly seconds: Second[] = [];
  private requests = 0;
  private ok = 0;

  /** How late a measured call of `second` went out against its schedule. */
  recordSent(second: number, lagMs: number): void {
    const micros = toMicros(lagMs);
    this.sendLag.recordValue(micros);
    const point = this.second(second);
    point.sendLag ??= newHistogram();
    point.sendLag.recordValue(micros);
  }

  recordOk(second: number, reply: EchoReply, latencyMs: number): void {
    const pod = reply.pod || UNKNOWN;
    const zone = reply.zone || UNKNOWN;
    let counts = this.pods.get(pod);
    if (!counts) {
      counts = { zone, node: reply.node, requests: 0, latency: newHistogram() };
      this.pods.set(pod, counts);
    }
    const micros = toMicros(latencyMs);
    counts.requests += 1;
    counts.latency.recordValue(micros);
    this.latency.recordValue(micros);
    this.zones.set(zone, (this.zones.get(zone) ?? 0) + 1);
    this.count(second, 'OK');
    const point = this.second(second);
    point.perPod.set(pod, (point.perPod.get(pod) ?? 0) + 1);
    point.latency ??= newHistogram();
    point.latency.recordValue(micros);
    this.ok += 1;
  }

  recordError(second: number, code: string): void {
    this.count(second, code);
    this.second(second).errors += 1;
  }

  /** Second `t` as recorded so far: calls of it still in flight are not in it yet. */
  point(t: number): TimelinePoint {
    const s = this.seconds[t];
    const point = {
      t,
      requests: s?.requests ?? 0,
      errors: s?.errors ?? 0,
      perPod: Object.fromEntries(s?.perPod ?? []),
    };
    const lag = s?.sendLag ? { sendLagHdr: encodeIntoCompressedBase64(s.sendLag) } : {};
    if (!s?.latency) return { ...point, ...lag };
    return {
      ...point,
      p99Ms: toMs(s.latency.getValueAtPercentile(99)),
      latencyHdr: encodeIntoCompressedBase64(s.latency),
      ...lag,
    };
  }

  /** Every second up to `seconds`, including seconds where nothing ended. */
  timeline(seconds: number): TimelinePoint[] {
    const length = Math.max(seconds, this.seconds.length);
    return Array.from({ length }, (_, t) => this.point(t));
  }

  totals(): { requests: number; ok: number; errors: number; byCode: Record<string, number> } {
    const byCode = Object.fromEntries(
      [...this.codes].sort(([a], [b]) => (a === 'OK' ? -1 : b === 'OK' ? 1 : a.localeCompare(b))),
    );
    return { requests: this.requests, ok: this.ok, errors: this.requests - this.ok, byCode };
  }

  perPod(): PodSummary[] {
    return [...this.pods]
      .map(([pod, c]) => ({
        pod,
        zone: c.zone,
        node: c.node,
        requests: c.requests,
        p50Ms: toMs(c.latency.getValueAtPercentile(50)),
        p99Ms: toMs(c.latency.getValueAtPercentile(99)),
        latencyHdr: encodeIntoCompressedBase64(c.latency),
      }))
      .sort((a, b) => b.requests - a.requests || a.pod.localeCompare(b.pod));
  }

  perZone(): Record<string, number> {
    return Object.fromEntries([...this.zones].sort(([a], [b]) => a.localeCompare(b)));
  }

  spread(expectedPods?: readonly string[]) {
    return spread(new Map([...this.pods].map(([pod, c]) => [pod, c.requests])), expectedPods);
  }

  latencyMs(): LatencySummary {
    const h = this.latency;
    if (h.totalCount === 0) return { p50: null, p90: null, p99: null, p999: null, max: null, mean: null };
    return {
      p50: toMs(h.getValueAtPercentile(50)),
      p90: toMs(h.getValueAtPercentile(90)),
      p99: toMs(h.getValueAtPercentile(99)),
      p999: toMs(h.getValueAtPercentile(99.9)),
      max: toMs(h.maxValue),
      mean: toMs(h.mean),
    };
  }

  sendLagMs(): { p50: number | null; p99: number | null; max: number | null } {
    const h = this.sendLag;
    if (h.totalCount === 0) return { p50: null, p99: null, max: null };
    return { p50: toMs(h.getValueAtPercentile(50)), p99: toMs(h.getValueAtPercentile(99)), max: toMs(h.maxValue) };
  }

  private count(second: number, code: string): void {
    this.requests += 1;
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    this.second(second).requests += 1;
  }

  private second(t: number): Second {
    for (let i = this.seconds.length; i <= t; i++) this.seconds.push({ requests: 0, errors: 0, perPod: new Map() });
    return this.seconds[t] as Second;
  }
}

function newHistogram(): Histogram {
  // Auto-resizing: a stalled event loop can make latencies longer than any deadline.
  return build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true });
}

function toMicros(ms: number): number {
  return Math.max(0, Math.round(ms * 1000));
}

function toMs(micros: number): number {
  return Math.round(micros) / 1000;
}
