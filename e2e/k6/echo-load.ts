/**
 * Echo load from k6: an open-loop constant arrival rate of calls against one address — the Envoy
 * ingress or the echo ClusterIP — either gRPC `skewless.echo.v1.Echo/Echo` or HTTP `GET /whoami`
 * (HTTP/2 when TLS ALPN offers it). Every reply names the pod that answered, so the per-pod counts come
 * from the replies alone. At the end it prints one JSON line, `{"skewlessK6":{…}}`: k6's summary with
 * the submetrics below, which e2e/src/k6-summary.ts turns into a LoadResult.
 *
 * k6 reports a submetric only when a threshold names it, so the thresholds (all always true) are how the
 * counts per pod, per zone, per error code and per second get into the summary: the pods, zones and
 * seconds to count come from the environment. Replies from pods not listed still count in the totals.
 *
 * Environment:
 *   TARGET       host:port
 *   PROTOCOL     grpc | http2
 *   TLS          true: TLS, verified against the CA bundle in SSL_CERT_FILE (Go reads it); else plaintext
 *   RATE         calls per second, DURATION_S seconds (the run ends by itself), VUS connections (one per VU)
 *   PODS, ZONES  comma lists of the pods and zones to count
 *   DELAY_MS     Echo delay_ms (gRPC only)
 *   ECHO_PROTO   path of echo.proto (default ./echo.proto, beside this script)
 */
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import grpc from 'k6/net/grpc';
import type { Options } from 'k6/options';

const PROTOCOLS = ['grpc', 'http2'] as const;
type Protocol = (typeof PROTOCOLS)[number];

/** gRPC status names by code, as @skewless/load reports them. */
const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];
/** HTTP failures are named HTTP_<status>; NETWORK_ERROR when no response came back. */
const HTTP_CODES = ['NETWORK_ERROR', ...[400, 403, 404, 408, 429, 500, 502, 503, 504].map((s) => `HTTP_${s}`)];
const PROTOCOL_NAMES = ['HTTP/1.1', 'HTTP/2.0'];
const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(99)', 'p(99.9)', 'count'];

function required(name: string): string {
  const value = __ENV[name];
  if (value === undefined || value === '') throw new Error(`echo-load: ${name} is required`);
  return value;
}

function positiveInt(name: string, fallback?: number): number {
  const raw = __ENV[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (value === undefined || !Number.isInteger(value) || value < 1)
    throw new Error(`echo-load: ${name} must be a positive integer, got ${raw}`);
  return value;
}

const list = (name: string): string[] => (__ENV[name] ?? '').split(',').filter((s) => s !== '');

const TARGET = required('TARGET');
const PROTOCOL = required('PROTOCOL') as Protocol;
if (!PROTOCOLS.includes(PROTOCOL)) throw new Error(`echo-load: PROTOCOL must be grpc or http2, got ${PROTOCOL}`);
const TLS = __ENV.TLS === 'true';
const RATE = positiveInt('RATE');
const DURATION_S = positiveInt('DURATION_S');
const VUS = positiveInt('VUS', 4);
const PODS = list('PODS');
const ZONES = list('ZONES');
const DELAY_MS = Number(__ENV.DELAY_MS ?? 0);
const ECHO_PROTO = __ENV.ECHO_PROTO ?? './echo.proto';

const KNOWN_CODES = PROTOCOL === 'grpc' ? GRPC_CODES.slice(1) : HTTP_CODES;

const ok = new Counter('echo_ok');
const errors = new Counter('echo_errors');
/** Milliseconds: for gRPC, Date.now() around the call (k6 gives gRPC calls no timings, so 1 ms steps). */
const latency = new Trend('echo_latency', true);
/** HTTP responses by protocol: shows whether ALPN gave HTTP/2. */
const protocols = new Counter('echo_protocol');

function thresholds(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const count = (key: string) => {
    out[key] = ['count>=0'];
  };
  const trend = (key: string) => {
    out[key] = ['max>=0'];
  };
  count('echo_ok');
  count('echo_errors');
  trend('echo_latency');
  for (const pod of PODS) {
    count(`echo_ok{pod:${pod}}`);
    trend(`echo_latency{pod:${pod}}`);
  }
  for (const zone of ZONES) count(`echo_ok{zone:${zone}}`);
  for (const code of KNOWN_CODES) count(`echo_errors{code:${code}}`);
  if (PROTOCOL === 'http2') for (const name of PROTOCOL_NAMES) count(`echo_protocol{proto:${name}}`);
  // One more second than the run: the last calls can end just after it.
  for (let t = 0; t <= DURATION_S; t += 1) {
    count(`echo_ok{t:${t}}`);
    count(`echo_errors{t:${t}}`);
    trend(`echo_latency{t:${t}}`);
    for (const pod of PODS) count(`echo_ok{pod:${pod},t:${t}}`);
  }
  return out;
}

export const options: Options = {
  scenarios: {
    echo: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: `${DURATION_S}s`,
      // A fixed pool: VUS connections, and a call with no free VU is dropped (dropped_iterations), not queued.
      preAllocatedVUs: VUS,
      maxVUs: VUS,
      gracefulStop: '5s',
    },
  },
  thresholds: thresholds(),
  summaryTrendStats: TREND_STATS,
  setupTimeout: '10s',
  teardownTimeout: '10s',
};

type Outcome = { ok: true; pod: string; zone: string; ms: number } | { ok: false; code: string };

const client = PROTOCOL === 'grpc' ? new grpc.Client() : undefined;
if (client) {
  const slash = ECHO_PROTO.lastIndexOf('/');
  client.load([slash < 0 ? '.' : ECHO_PROTO.slice(0, slash) || '/'], ECHO_PROTO.slice(slash + 1));
}
let connected = false;
const unlisted = new Set<string>();

function callGrpc(grpcClient: grpc.Client): Outcome {
  if (!connected) {
    try {
      grpcClient.connect(TARGET, { plaintext: !TLS, timeout: '5s' });
      connected = true;
    } catch (error) {
      console.warn(`connect ${TARGET}: ${error}`);
      return { ok: false, code: 'UNAVAILABLE' };
    }
  }
  const began = Date.now();
  const response = grpcClient.invoke(
    'skewless.echo.v1.Echo/Echo',
    { message: 'k6', delay_ms: DELAY_MS },
    { timeout: '5s' },
  );
  const ms = Date.now() - began;
  if (response.status === grpc.StatusOK) {
    const reply = response.message as { pod?: string; zone?: string };
    return { ok: true, pod: reply.pod ?? '', zone: reply.zone ?? '', ms };
  }
  return { ok: false, code: grpcStatusName(response.status) };
}

/**
 * k6 hands the status as a number for some failures (a deadline: 4) and as grpc-go's code name for
 * others (`ResourceExhausted`): both become the gRPC name, `RESOURCE_EXHAUSTED`.
 */
function grpcStatusName(status: unknown): string {
  const numeric = Number(status);
  if (Number.isInteger(numeric)) return GRPC_CODES[numeric] ?? `STATUS_${numeric}`;
  const name = String(status)
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toUpperCase();
  return name === 'CANCELED' ? 'CANCELLED' : name;
}

function callHttp(): Outcome {
  const response = http.get(`${TLS ? 'https' : 'http'}://${TARGET}/whoami`, { timeout: '5s' });
  if (response.proto) protocols.add(1, { proto: response.proto });
  if (response.status !== 200)
    return { ok: false, code: response.status === 0 ? 'NETWORK_ERROR' : `HTTP_${response.status}` };
  const reply = response.json() as { pod?: string; zone?: string };
  return { ok: true, pod: reply.pod ?? '', zone: reply.zone ?? '', ms: response.timings.duration };
}

export function setup(): { startedAt: string } {
  return { startedAt: new Date().toISOString() };
}

export default function (): void {
  const t = String(Math.floor((Date.now() - exec.scenario.startTime) / 1000));
  const outcome = client ? callGrpc(client) : callHttp();
  if (!outcome.ok) {
    errors.add(1, { code: outcome.code, t });
    if (!KNOWN_CODES.includes(outcome.code) && !unlisted.has(outcome.code)) {
      unlisted.add(outcome.code);
      console.warn(`failure ${outcome.code}, not a listed code: counted in the totals only`);
    }
    return;
  }
  ok.add(1, { pod: outcome.pod, zone: outcome.zone, t });
  latency.add(outcome.ms, { pod: outcome.pod, t });
  if (!PODS.includes(outcome.pod) && !unlisted.has(outcome.pod)) {
    unlisted.add(outcome.pod);
    console.warn(`reply from ${outcome.pod}, not in PODS: counted in the totals only`);
  }
}

/** What k6 hands handleSummary: only the parts we print. */
interface SummaryData {
  readonly setup_data?: unknown;
  readonly state: unknown;
  readonly metrics: Record<string, unknown>;
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const summary = { setup: data.setup_data, state: data.state, metrics: data.metrics };
  return { stdout: `${JSON.stringify({ skewlessK6: summary })}\n` };
}
