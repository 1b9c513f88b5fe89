/**
 * k6's end-of-run summary (the `{"skewlessK6":…}` line e2e/k6/echo-load.ts prints) → @skewless/load's
 * LoadResult, so k6 runs add up with our load clients' in summarize(). Pure: no I/O.
 *
 * What k6 cannot give is left empty rather than made up: no send lag (k6 does not measure it), no
 * per-second latency histograms (only each second's p99), and waitReady is false (k6 connects in each
 * VU's first call, inside the measured run).
 */
import { CLIENT_OVERLOADED, type LoadResult, type PodSummary, sameZoneShare, spread } from '@skewless/load';

export const K6_SUMMARY_MARKER = '{"skewlessK6":';

/** One metric of k6's summary: counters have count/rate, trends the summaryTrendStats. */
export interface K6Metric {
  readonly type: string;
  readonly values: Readonly<Record<string, number>>;
}

export interface K6Summary {
  readonly setup?: { readonly startedAt?: string };
  readonly state?: { readonly testRunDurationMs?: number };
  readonly metrics: Readonly<Record<string, K6Metric>>;
}

export interface K6RunContext {
  readonly protocol: 'grpc' | 'http2';
  /** The address k6 called, e.g. `10.96.0.20:443`. */
  readonly target: string;
  /** The k6 pod and its zone. */
  readonly client: string;
  readonly zone: string | null;
  readonly rate: number;
  readonly durationS: number;
  /** k6 VUs: one connection each. */
  readonly vus: number;
  /** The pods k6 was told to count (PODS), with where they run. */
  readonly pods: readonly { readonly name: string; readonly zone: string; readonly node: string }[];
}

/** A LoadResult with what only k6 knows. */
export interface K6LoadResult extends LoadResult {
  readonly generator: 'k6';
  readonly protocol: 'grpc' | 'http2';
  /** HTTP responses by negotiated protocol (`HTTP/2.0`, `HTTP/1.1`); empty for gRPC. */
  readonly httpProtocols: Readonly<Record<string, number>>;
  /** Calls k6 did not start because every VU was busy: counted as CLIENT_OVERLOADED errors. */
  readonly droppedIterations: number;
  /** Successful calls answered by pods not in the context's list: in the totals, not in perPod. */
  readonly unlistedPodCalls: number;
}

/** The summary line of a k6 pod's log (the last one, if k6 somehow printed two). */
export function parseK6Summary(log: string): K6Summary | undefined {
  const lines = log.split('\n').filter((line) => line.startsWith(K6_SUMMARY_MARKER));
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  try {
    return (JSON.parse(last) as { skewlessK6: K6Summary }).skewlessK6;
  } catch {
    return undefined;
  }
}

export function k6LoadResult(summary: K6Summary, context: K6RunContext): K6LoadResult {
  const metric = (name: string) => summary.metrics[name]?.values;
  const count = (name: string) => metric(name)?.count ?? 0;
  const latencyOf = (name: string) => {
    const values = metric(name);
    return values !== undefined && (values.count ?? 0) > 0 ? values : undefined;
  };

  const ok = count('echo_ok');
  const callErrors = count('echo_errors');
  const dropped = count('dropped_iterations');
  const byCode: Record<string, number> = {};
  let named = 0;
  for (const [key, values] of Object.entries(summary.metrics)) {
    const code = /^echo_errors\{code:([^,}]+)\}$/.exec(key)?.[1];
    if (code !== undefined && (values.values.count ?? 0) > 0) {
      byCode[code] = values.values.count ?? 0;
      named += byCode[code];
    }
  }
  if (callErrors > named) byCode.OTHER = callErrors - named;
  if (dropped > 0) byCode[CLIENT_OVERLOADED] = dropped;

  const perPod: PodSummary[] = context.pods
    .map((pod) => {
      const latency = latencyOf(`echo_latency{pod:${pod.name}}`);
      return {
        pod: pod.name,
        zone: pod.zone,
        node: pod.node,
        requests: count(`echo_ok{pod:${pod.name}}`),
        p50Ms: latency?.['p(50)'] ?? 0,
        p99Ms: latency?.['p(99)'] ?? 0,
      };
    })
    .filter((pod) => pod.requests > 0)
    .sort((a, b) => b.requests - a.requests || (a.pod < b.pod ? -1 : 1));
  const listedCalls = perPod.reduce((sum, pod) => sum + pod.requests, 0);

  const perZone: Record<string, number> = {};
  for (const zone of new Set(context.pods.map((pod) => pod.zone))) {
    const n = count(`echo_ok{zone:${zone}}`);
    if (n > 0) perZone[zone] = n;
  }

  const seconds = Math.max(
    -1,
    ...Object.keys(summary.metrics).map((key) => Number(/[{,]t:(\d+)\}$/.exec(key)?.[1] ?? -1)),
  );
  const timeline = [];
  for (let t = 0; t <= seconds; t += 1) {
    const okT = count(`echo_ok{t:${t}}`);
    const errorsT = count(`echo_errors{t:${t}}`);
    if (okT + errorsT === 0) continue;
    const perPodT: Record<string, number> = {};
    for (const pod of context.pods) {
      const n = count(`echo_ok{pod:${pod.name},t:${t}}`);
      if (n > 0) perPodT[pod.name] = n;
    }
    const p99 = latencyOf(`echo_latency{t:${t}}`)?.['p(99)'];
    timeline.push({
      t,
      requests: okT + errorsT,
      errors: errorsT,
      perPod: perPodT,
      ...(p99 === undefined ? {} : { p99Ms: p99 }),
    });
  }

  const latency = latencyOf('echo_latency');
  const counts = new Map(perPod.map((pod) => [pod.pod, pod.requests]));
  const httpProtocols: Record<string, number> = {};
  for (const [key, values] of Object.entries(summary.metrics)) {
    const proto = /^echo_protocol\{proto:([^}]+)\}$/.exec(key)?.[1];
    if (proto !== undefined && (values.values.count ?? 0) > 0) httpProtocols[proto] = values.values.count ?? 0;
  }
  const runMs = summary.state?.testRunDurationMs;

  return {
    // k6 dials one address and keeps one connection per VU, choosing no backend itself: what pick_first does.
    mode: 'pick-first',
    target: context.target,
    zone: context.zone,
    client: context.client,
    startedAt: summary.setup?.startedAt ?? '',
    durationS: context.durationS,
    rate: context.rate,
    channels: context.vus,
    warmupS: 0,
    stoppedEarly: runMs !== undefined && runMs < context.durationS * 1000 - 1000,
    waitReady: { ready: false, waitedMs: 0 },
    totals: { requests: ok + callErrors + dropped, ok, errors: callErrors + dropped, byCode },
    perPod,
    perZone,
    latencyMs: {
      p50: latency?.['p(50)'] ?? null,
      p90: latency?.['p(90)'] ?? null,
      p99: latency?.['p(99)'] ?? null,
      p999: latency?.['p(99.9)'] ?? null,
      max: latency?.max ?? null,
      mean: latency?.avg ?? null,
    },
    sendLagMs: { p50: null, p99: null, max: null },
    timeline,
    metrics: {
      ...spread(
        counts,
        context.pods.map((pod) => pod.name),
      ),
      sameZoneShare: sameZoneShare(perZone, context.zone ?? undefined),
    },
    generator: 'k6',
    protocol: context.protocol,
    httpProtocols,
    droppedIterations: dropped,
    unlistedPodCalls: ok - listedCalls,
  };
}
