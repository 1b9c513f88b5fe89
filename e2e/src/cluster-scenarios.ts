/**
 * The scenarios that run on a cluster session today: a smoke check that our client reaches every pod
 * in every zone, the real kube-proxy baseline pinning each connection to one pod, our client beside
 * that baseline in the same run, zone locality, spillover from a zone down to 1 of 3 pods, and a
 * rolling restart under load. Each returns a result in the shape issue #5 fixes for every scenario
 * (scenario, driver, perPod, totals, metrics, assertions, …); a failed assertion names its threshold
 * and value.
 */
import type { LoadResult } from '@skewless/load';
import type { ClusterSession, EchoPod, EndpointSliceEvent } from './cluster-session.ts';

export interface Assertion {
  readonly name: string;
  readonly threshold: string;
  readonly value: number | string;
  readonly passed: boolean;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly driver: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly perPod: {
    pod: string;
    zone: string;
    node: string;
    requests: number;
    errors: number;
    p50Ms: number | null;
    p99Ms: number | null;
  }[];
  readonly perZone: Record<string, Record<string, number>>;
  readonly totals: { requests: number; errors: number; byCode: Record<string, number> };
  readonly metrics: Record<string, number | null>;
  readonly assertions: Assertion[];
  /** perPod: successful calls by answering pod in that second. */
  readonly timeline: { t: number; requests: number; errors: number; perPod?: Record<string, number> }[];
  readonly details?: unknown;
}

export interface Scenario {
  readonly name: string;
  readonly what: string;
  /** Part of the quick subset `make test` runs (the long ones run in `make e2e` only). */
  readonly quick: boolean;
  run(session: ClusterSession): Promise<ScenarioResult>;
}

// Service ports are named in EDS resource names (`<namespace>/<service>:<port name>`).
const ECHO_TARGET = 'skewless:///skewless/echo:grpc';

export const CLUSTER_SCENARIOS: readonly Scenario[] = [
  {
    name: 'smoke',
    quick: true,
    what: 'our client in every zone reaches every echo pod in every zone, with no errors',
    async run(session) {
      const began = new Date();
      const pods = await session.echoPods();
      const zones = session.cluster.zones;
      const controlPlane = await session.controlPlaneAddress();
      const results = await onePerZone(
        session,
        'smoke',
        loadArgs('skewless', ECHO_TARGET, { controlPlane, rate: 150, durationS: 4, channels: 2 }),
      );
      // Each client keeps to its own zone's pods (zone affinity), so one client per zone covers all.
      const summary = summarize(results, pods);
      const reached = summary.perPod.filter((p) => p.requests > 0).length;
      const zonesReached = new Set(summary.perPod.filter((p) => p.requests > 0).map((p) => p.zone)).size;
      return result('smoke', session, began, summary, [
        assert('every echo pod answered', `= ${pods.length}`, reached, reached === pods.length),
        assert('every zone answered', `= ${zones.length}`, zonesReached, zonesReached === zones.length),
        noFailedRequests(summary.totals.errors),
        assert('requests made', '> 0', summary.totals.requests, summary.totals.requests > 0),
      ]);
    },
  },
  {
    name: 'kube-proxy-baseline',
    quick: true,
    what: "grpc-js's default client through the echo ClusterIP: kube-proxy pins each connection to one pod",
    async run(session) {
      const began = new Date();
      const pods = await session.echoPods();
      const target = await session.echoClusterIp();
      const results = await onePerZone(
        session,
        'baseline',
        loadArgs('pick-first', target, { rate: 100, durationS: 4, channels: 1 }),
      );
      const summary = summarize(results, pods);
      const podsPerClient = results.map((r) => r.perPod.filter((p) => p.requests > 0).length);
      const maxOverMean = summary.metrics.maxOverMean ?? 0;
      return result('kube-proxy-baseline', session, began, summary, [
        assert(
          'pods reached per client (one connection each)',
          '= 1 for every client',
          podsPerClient.join(','),
          podsPerClient.every((n) => n === 1),
        ),
        assert('per-pod max/mean over all echo pods', '≥ 2', round(maxOverMean), maxOverMean >= 2),
        noFailedRequests(summary.totals.errors),
      ]);
    },
  },
  {
    name: 'even-distribution',
    quick: true,
    what: 'our client beside the kube-proxy baseline, same shape (one channel per client, one client per zone), same run',
    async run(session) {
      const began = new Date();
      const pods = await session.echoPods();
      const controlPlane = await session.controlPlaneAddress();
      const clusterIp = await session.echoClusterIp();
      const zones = session.cluster.zones;
      const shape = { rate: 100, durationS: 5, channels: 1 };
      // Both sets of clients at once: the same pods, the same moment, the same load.
      const results = await session.runLoadPods(
        'even',
        [
          ...zones.map((zone) => ({ zone, args: loadArgs('skewless', ECHO_TARGET, { ...shape, controlPlane }) })),
          ...zones.map((zone) => ({ zone, args: loadArgs('pick-first', clusterIp, shape) })),
        ],
        90_000,
      );
      const ours = summarize(
        results.filter((r) => r.mode === 'skewless'),
        pods,
      );
      const baseline = summarize(
        results.filter((r) => r.mode === 'pick-first'),
        pods,
      );
      const oursSkew = ours.metrics.maxOverMean ?? Number.POSITIVE_INFINITY;
      const baselineSkew = baseline.metrics.maxOverMean ?? 0;
      process.stderr.write(
        `[e2e]   per-pod max/mean: skewless ${round(oursSkew)} vs kube-proxy ${round(baselineSkew)} (${round(baselineSkew / oursSkew)}× more even)\n`,
      );
      return result(
        'even-distribution',
        session,
        began,
        ours,
        [
          assert('per-pod max/mean through our client', '≤ 1.10', round(oursSkew), oursSkew <= 1.1),
          assert(
            'per-pod max/mean of the kube-proxy baseline in the same run',
            '≥ 2',
            round(baselineSkew),
            baselineSkew >= 2,
          ),
          noFailedRequests(ours.totals.errors + baseline.totals.errors),
        ],
        {
          baseline: { perPod: baseline.perPod, metrics: baseline.metrics, totals: baseline.totals },
          skewRatio: round(baselineSkew / oursSkew),
        },
      );
    },
  },
  {
    name: 'zone-locality',
    quick: true,
    what: 'clients in every zone keep their calls in their own zone',
    async run(session) {
      const began = new Date();
      const pods = await session.echoPods();
      const controlPlane = await session.controlPlaneAddress();
      const results = await onePerZone(
        session,
        'locality',
        loadArgs('skewless', ECHO_TARGET, { controlPlane, rate: 150, durationS: 4, channels: 2 }),
      );
      const summary = summarize(results, pods);
      const share = summary.metrics.sameZoneShare ?? 0;
      const perClient = results.map((r) => round(r.metrics.sameZoneShare ?? 0));
      return result('zone-locality', session, began, summary, [
        assert('same-zone share over all clients', '≥ 0.95', round(share), share >= 0.95),
        assert(
          'lowest same-zone share of one client',
          '≥ 0.95',
          Math.min(...perClient),
          Math.min(...perClient) >= 0.95,
        ),
        noFailedRequests(summary.totals.errors),
      ]);
    },
  },
  {
    name: 'zone-spillover',
    // Twice zone-a clients kept more local than equal client shares give (68% once in make test's
    // suite, 48% once alone) where other runs measured 39–43%. The result now records the client
    // shares the client used, and the expectation follows them; until an outlier is explained with
    // that data, this runs in make e2e only.
    quick: false,
    what: 'zone-a down to 1 of 3 pods (node tainted, 2 pods deleted): its clients spill in proportion to the missing capacity',
    async run(session) {
      const began = new Date();
      const all = await session.echoPods();
      const zones = session.cluster.zones;
      const [small] = zones;
      const node = all.find((p) => p.zone === small)?.node ?? '';
      await session.setScenarioTaint(node, true);
      try {
        // The ReplicaSet replaces them, but the taint and the zone spread constraint keep the
        // replacements Pending: a real 1-of-3 zone, not a simulated one.
        for (const pod of all.filter((p) => p.zone === small).slice(1)) await session.deletePod(pod.name);
        await waitUntil(async () => {
          const ready = (await session.echoPods()).filter((p) => p.ready);
          return ready.filter((p) => p.zone === small).length === 1 && ready.length === all.length - 2;
        }, 60_000);
        const pods = (await session.echoPods()).filter((p) => p.ready);
        const controlPlane = await session.controlPlaneAddress();
        // Two uncounted seconds first: the formula holds once every connection is READY.
        const results = await onePerZone(
          session,
          'spill',
          loadArgs('skewless', ECHO_TARGET, { controlPlane, rate: 150, durationS: 5, channels: 2, warmupS: 2 }),
        );
        const summary = summarize(results, pods);
        // Envoy's zone-aware formula: local% = upstream share / client share. The client shares are
        // the fleet's, published by the control plane (and by design refreshed at most every 30–60 s
        // without an endpoint change), so take the ones this client used rather than assume 1/3.
        const smallClient = results.find((r) => r.zone === small);
        const shares = smallClient?.zoneRouting?.clientShares ?? {};
        const shareTotal = Object.values(shares).reduce((a, b) => a + b, 0);
        const clientShare = shareTotal > 0 ? (shares[small ?? ''] ?? 0) / shareTotal : 1 / zones.length;
        const upstreamShare = pods.filter((p) => p.zone === small).length / pods.length;
        const expectedLocal = Math.min(1, upstreamShare / clientShare);
        const local = smallClient?.metrics.sameZoneShare ?? 0;
        const maxOverMean = summary.metrics.maxOverMean ?? Number.POSITIVE_INFINITY;
        return result(
          'zone-spillover',
          session,
          began,
          summary,
          [
            assert(
              `${small} clients' local share (Envoy's formula with their client shares ${JSON.stringify(shares)})`,
              `${round(expectedLocal)} ± 0.05`,
              round(local),
              Math.abs(local - expectedLocal) <= 0.05,
            ),
            assert('per-pod max/mean over the ready pods', '≤ 1.3', round(maxOverMean), maxOverMean <= 1.3),
            noFailedRequests(summary.totals.errors),
          ],
          {
            readyPods: pods.length,
            expectedLocalShare: round(expectedLocal),
            clientShares: shares,
            clientSharesSource: smallClient?.zoneRouting?.clientSharesSource ?? null,
            clientLocalShare: smallClient?.zoneRouting?.localShare ?? null,
          },
        );
      } finally {
        await session.setScenarioTaint(node, false);
        await session.waitDeploymentReady('echo', 120_000);
      }
    },
  },
  {
    name: 'control-plane-outage',
    quick: false,
    what: 'the control plane scaled to 0 for 30 s under load: no failed call, endpoints kept, clients reconnect when it returns',
    async run(session) {
      const began = new Date();
      const pods = await session.echoPods();
      const controlPlane = await session.controlPlaneAddress();
      const durationS = 50;
      const load = onePerZone(
        session,
        'outage',
        loadArgs('skewless', ECHO_TARGET, { controlPlane, rate: 100, durationS, channels: 2 }),
        (durationS + 90) * 1000,
      );
      await new Promise((r) => setTimeout(r, 6000));
      const outageBegan = performance.now();
      await session.scaleDeployment('skewless-control-plane', 0);
      await waitUntil(async () => (await session.podsOf('app=skewless-control-plane')) === 0, 60_000);
      const goneAfterS = (performance.now() - outageBegan) / 1000;
      await new Promise((r) => setTimeout(r, 30_000));
      await session.scaleDeployment('skewless-control-plane', 1);
      await session.waitDeploymentReady('skewless-control-plane', 120_000);
      const outageS = (performance.now() - outageBegan) / 1000;
      const results = await load;
      const summary = summarize(results, pods);
      // Each client's busiest second and quietest second of answered calls, over the whole run.
      const answeredPerSecond = results.flatMap((r) =>
        r.timeline.map((p) => Object.values(p.perPod).reduce((a, b) => a + b, 0)),
      );
      const reconnected = results.map((r) => r.controlPlane?.streamsStarted ?? 0);
      return result(
        'control-plane-outage',
        session,
        began,
        summary,
        [
          noFailedRequests(summary.totals.errors, 'failed requests through the outage'),
          assert(
            'fewest calls answered in any second by one client',
            '≥ 90 (rate 100)',
            Math.min(...answeredPerSecond),
            Math.min(...answeredPerSecond) >= 90,
          ),
          assert(
            'ADS streams started per client (reconnected after the outage)',
            '≥ 2 for every client',
            reconnected.join(','),
            reconnected.every((n) => n >= 2),
          ),
        ],
        {
          outageS: round(outageS),
          controlPlaneGoneAfterS: round(goneAfterS),
          // Not asserted: in one of two clean runs no client reported an open stream at the very end
          // (see the #5 notes); recorded so the next runs show whether it recurs.
          connectedAtEnd: results.map((r) => r.controlPlane?.connected ?? false),
        },
      );
    },
  },
  {
    name: 'rolling-restart',
    quick: true,
    what: 'kubectl rollout restart of echo under load: serving/terminating EndpointSlices, pushes, zero failed requests',
    async run(session) {
      const began = new Date();
      const before = await session.echoPods();
      const controlPlane = await session.controlPlaneAddress();
      const watch = await session.watchEndpointSlices('echo');
      const durationS = 50;
      const load = onePerZone(
        session,
        'rollout',
        loadArgs('skewless', ECHO_TARGET, { controlPlane, rate: 100, durationS, channels: 2 }),
        (durationS + 90) * 1000,
      );
      // Let the clients connect and reach steady state before the rollout starts.
      await session.waitPodsRunning('app=load', session.cluster.zones.length, 60_000);
      await new Promise((r) => setTimeout(r, 5000));
      const rolloutBegan = performance.now();
      const rolloutBeganAt = Date.now();
      await session.rolloutRestart('echo');
      await session.waitDeploymentReady('echo', 120_000);
      const rolloutS = (performance.now() - rolloutBegan) / 1000;
      // Old pods drain after the Deployment counts as done; wait until they are gone from the slices.
      const oldPods = new Set(before.map((p) => p.name));
      await waitUntil(() => !lastEndpoints(watch.events).some((e) => oldPods.has(e.pod)), 60_000);
      const results = await load;
      watch.stop();
      const after = await session.echoPods();
      const summary = summarize(results, after.concat(before));
      const transitions = endpointTransitions(watch.events, oldPods);
      const pushes = results.reduce((sum, r) => sum + (r.controlPlane?.acks ?? 0), 0) / Math.max(1, results.length);
      const newServing = summary.perPod.filter((p) => after.some((a) => a.name === p.pod) && p.requests > 0).length;
      return result(
        'rolling-restart',
        session,
        began,
        summary,
        [
          noFailedRequests(summary.totals.errors, 'failed requests through our client during the rollout'),
          assert(
            'old endpoints seen terminating while still serving',
            `= ${before.length}`,
            transitions.terminatingServing,
            transitions.terminatingServing === before.length,
          ),
          assert(
            'old endpoints seen terminating and no longer serving',
            `= ${before.length}`,
            transitions.terminatingNotServing,
            transitions.terminatingNotServing === before.length,
          ),
          assert('new pods that served our clients', `= ${after.length}`, newServing, newServing === after.length),
          assert(
            'EndpointSlice changes observed',
            '≥ 3 per replaced pod',
            watch.events.length,
            watch.events.length >= before.length * 3,
          ),
          assert(
            'control-plane pushes accepted per client',
            `≥ ${before.length}`,
            round(pushes),
            pushes >= before.length,
          ),
        ],
        {
          rolloutS: round(rolloutS),
          // On the timeline's clock (seconds from the load clients' measured start), for the report.
          rolloutStartS: round((rolloutBeganAt - loadStartMs(results)) / 1000),
          rolloutEndS: round((rolloutBeganAt - loadStartMs(results)) / 1000 + rolloutS),
          endpointSliceEvents: watch.events.length,
          transitions,
        },
      );
    },
  },
];

interface Summary {
  perPod: ScenarioResult['perPod'];
  perZone: ScenarioResult['perZone'];
  totals: ScenarioResult['totals'];
  metrics: { maxOverMean: number | null; cv: number | null; sameZoneShare: number | null };
  timeline: ScenarioResult['timeline'];
}

/** Adds the clients' results up; pods that answered nothing still count (as zeros) in the skew. */
export function summarize(results: readonly LoadResult[], pods: readonly EchoPod[]): Summary {
  const perPod = new Map<
    string,
    {
      pod: string;
      zone: string;
      node: string;
      requests: number;
      errors: number;
      p50Ms: number | null;
      p99Ms: number | null;
    }
  >();
  for (const pod of pods)
    perPod.set(pod.name, {
      pod: pod.name,
      zone: pod.zone,
      node: pod.node,
      requests: 0,
      errors: 0,
      p50Ms: null,
      p99Ms: null,
    });
  const perZone: Record<string, Record<string, number>> = {};
  const byCode: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  let sameZone = 0;
  let zoned = 0;
  const timeline = new Map<number, { t: number; requests: number; errors: number; perPod: Record<string, number> }>();
  for (const r of results) {
    requests += r.totals.requests;
    errors += r.totals.errors;
    for (const [code, n] of Object.entries(r.totals.byCode)) byCode[code] = (byCode[code] ?? 0) + n;
    for (const p of r.perPod) {
      const entry = perPod.get(p.pod) ?? {
        pod: p.pod,
        zone: p.zone,
        node: p.node,
        requests: 0,
        errors: 0,
        p50Ms: null,
        p99Ms: null,
      };
      entry.requests += p.requests;
      entry.p50Ms = Math.max(entry.p50Ms ?? 0, p.p50Ms);
      entry.p99Ms = Math.max(entry.p99Ms ?? 0, p.p99Ms);
      perPod.set(p.pod, entry);
      if (r.zone) {
        const row = perZone[r.zone] ?? {};
        row[p.zone] = (row[p.zone] ?? 0) + p.requests;
        perZone[r.zone] = row;
        zoned += p.requests;
        if (p.zone === r.zone) sameZone += p.requests;
      }
    }
    for (const point of r.timeline) {
      const entry = timeline.get(point.t) ?? { t: point.t, requests: 0, errors: 0, perPod: {} };
      entry.requests += point.requests;
      entry.errors += point.errors;
      for (const [pod, n] of Object.entries(point.perPod)) entry.perPod[pod] = (entry.perPod[pod] ?? 0) + n;
      timeline.set(point.t, entry);
    }
  }
  // Only pods of the Deployment count in the skew (a restarted pod's predecessor may have served too).
  const counted =
    pods.length > 0 ? pods.map((p) => perPod.get(p.name)?.requests ?? 0) : [...perPod.values()].map((p) => p.requests);
  const mean = counted.reduce((a, b) => a + b, 0) / Math.max(1, counted.length);
  const sd = Math.sqrt(counted.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, counted.length));
  return {
    perPod: [...perPod.values()],
    perZone,
    totals: { requests, errors, byCode },
    metrics: {
      maxOverMean: mean > 0 ? Math.max(...counted) / mean : null,
      cv: mean > 0 ? sd / mean : null,
      sameZoneShare: zoned > 0 ? sameZone / zoned : null,
    },
    timeline: [...timeline.values()].sort((a, b) => a.t - b.t),
  };
}

function result(
  scenario: string,
  session: ClusterSession,
  began: Date,
  summary: Summary,
  assertions: Assertion[],
  details?: unknown,
): ScenarioResult {
  return {
    scenario,
    driver: session.cluster.kind,
    startedAt: began.toISOString(),
    durationS: round((Date.now() - began.getTime()) / 1000),
    perPod: summary.perPod,
    perZone: summary.perZone,
    totals: summary.totals,
    metrics: {
      ...summary.metrics,
      maxOverMean: summary.metrics.maxOverMean === null ? null : round(summary.metrics.maxOverMean),
    },
    assertions,
    timeline: summary.timeline,
    ...(details === undefined ? {} : { details }),
  };
}

export function assert(name: string, threshold: string, value: number | string, passed: boolean): Assertion {
  return { name, threshold, value, passed };
}

function loadArgs(
  mode: 'skewless' | 'pick-first' | 'round-robin',
  target: string,
  options: { controlPlane?: string; rate: number; durationS: number; channels: number; warmupS?: number },
): string[] {
  return [
    '--mode',
    mode,
    '--target',
    target,
    ...(options.controlPlane ? ['--control-plane', options.controlPlane] : []),
    '--rate',
    String(options.rate),
    '--duration-s',
    String(options.durationS),
    '--channels',
    String(options.channels),
    ...(options.warmupS ? ['--warmup-s', String(options.warmupS)] : []),
  ];
}

/** One load client pod per zone, all with the same arguments; resolves with their results. */
function onePerZone(session: ClusterSession, name: string, args: string[], timeoutMs = 90_000): Promise<LoadResult[]> {
  return session.runLoadPods(
    name,
    session.cluster.zones.map((zone) => ({ zone, args })),
    timeoutMs,
  );
}

function noFailedRequests(errors: number, name = 'failed requests'): Assertion {
  return assert(name, '= 0', errors, errors === 0);
}

function lastEndpoints(events: readonly EndpointSliceEvent[]): EndpointSliceEvent['endpoints'] {
  return events.at(-1)?.endpoints ?? [];
}

/** For each old endpoint: was it ever seen terminating+serving, and terminating+not serving? */
function endpointTransitions(events: readonly EndpointSliceEvent[], oldPods: ReadonlySet<string>) {
  const servingWhileTerminating = new Set<string>();
  const notServingWhileTerminating = new Set<string>();
  for (const event of events) {
    for (const e of event.endpoints) {
      if (!oldPods.has(e.pod) || !e.terminating) continue;
      (e.serving ? servingWhileTerminating : notServingWhileTerminating).add(e.pod);
    }
  }
  return { terminatingServing: servingWhileTerminating.size, terminatingNotServing: notServingWhileTerminating.size };
}

/** When the first load client's measured run started (its timeline's second 0). */
function loadStartMs(results: readonly LoadResult[]): number {
  return Math.min(...results.map((r) => Date.parse(r.startedAt)));
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const began = performance.now();
  while (!(await check())) {
    if (performance.now() - began > timeoutMs) throw new Error(`condition not met after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
