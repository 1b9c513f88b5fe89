/**
 * Runs one scenario file on a cluster session: shapes the echo fleet (pods per zone, a zone down,
 * faults), starts every load group at once as load pods, fires the event while they run, then adds
 * the results up into metrics, checks the file's assertions and builds the result every scenario
 * writes (results/<scenario>.json). Whatever the set-up changed is put back, also after a failure.
 */
import type { LoadResult } from '@skewless/load';
import { pinnedVersion } from '@skewless/testbed';
import { type ClusterSession, type EchoPod, type EndpointSliceEvent, NAMESPACE } from './cluster-session.ts';
import type { EnvoyIngressStats } from './envoy-ingress-stats.ts';
import { envoyStats, runK6Group } from './k6-ingress.ts';
import type { K6LoadResult } from './k6-summary.ts';
import type { LoadGroup, ScenarioFile } from './scenario-file.ts';
import {
  type Assertion,
  checkAssertions,
  evenness,
  groupMetrics,
  round,
  type ScenarioResult,
  type Summary,
  sum,
  summarize,
  windowPercentile,
} from './scenario-metrics.ts';

/** Service ports are named in EDS resource names (`<namespace>/<service>:<port name>`). */
const ECHO_TARGET = `skewless:///${NAMESPACE}/echo:grpc`;
/** grpc-js round_robin resolves every pod address through the cluster DNS (headless Service). */
const ECHO_HEADLESS_TARGET = `dns:///echo-headless.${NAMESPACE}.svc.cluster.local:50051`;
const BACKEND_HTTP_PORT = 9090;
/** Seconds a load pod may wait for its channels before the clock starts, plus slack for pod start. */
const LOAD_POD_SLACK_S = 120;

type Restore = () => Promise<void>;

interface EventRecord {
  /** Epoch ms the event started and ended (e.g. the rollout done). */
  readonly startMs: number;
  readonly endMs: number;
  /** Epoch ms the event's after-effects were over (a rollout: the last old pod gone from the slices). */
  readonly drainedMs: number;
  readonly metrics: Record<string, number | null>;
  readonly details: Record<string, unknown>;
  /** Echo pods that came with the event, and when each became Ready (epoch ms). */
  readonly newPods: ReadonlyMap<string, number>;
}

export async function runScenario(session: ClusterSession, file: ScenarioFile): Promise<ScenarioResult> {
  const began = new Date();
  const restores: Restore[] = [];
  try {
    const setupMetrics: Record<string, number | null> = {};
    const setupDetails: Record<string, unknown> = {};
    await shapeFleet(session, file, restores);
    const before = (await session.echoPods()).filter((p) => p.ready);
    const faulted = await applyFaults(session, file, before, restores);
    const watch = file.event?.type === 'rollout-restart' ? await session.watchEndpointSlices('echo') : undefined;
    restores.push(async () => watch?.stop());

    const groups = await Promise.all(file.load.map(async (group) => ({ group, args: await loadArgs(session, group) })));
    // Envoy's counters are cumulative: the scenario's own share is the difference to this snapshot.
    const throughEnvoy = file.load.some((g) => g.client === 'k6' && g.target !== 'cluster-ip');
    const envoyBefore = throughEnvoy ? await envoyStats(session) : [];
    const running = groups.map(({ group, args }) =>
      group.client === 'k6'
        ? runK6Group(session, k6Specs(session, file, group, before))
        : session.runLoadPods(
            `${file.name}-${group.name}`,
            clientZones(session, group).map((zone) => ({ zone, args })),
            (group.warmupS + group.durationS + LOAD_POD_SLACK_S) * 1000,
          ),
    );
    // A failed group must not leave the others' rejections unhandled while the event runs.
    const settled = Promise.allSettled(running);
    let event: EventRecord | undefined;
    if (file.event) {
      const clients = sum(groups.map(({ group }) => clientZones(session, group).length));
      await session.waitPodsRunning('app in (load,k6)', clients, 90_000);
      await sleep(file.event.afterS * 1000);
      event = await runEvent(session, file, before, restores, watch?.events);
    }
    const outcomes = await settled;
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
    const results = outcomes.map((o) => (o as PromiseFulfilledResult<LoadResult[]>).value);

    const after = (await session.echoPods()).filter((p) => p.ready);
    // The skew counts over the pods that should have served: the final set (a rollout: old and new).
    const counted = file.event?.type === 'rollout-restart' ? uniquePods([...after, ...before]) : after;
    const summaries = results.map((r) => summarize(r, counted));
    const metrics: Record<string, number | null> = { ...setupMetrics };
    const groupDetails: Record<string, unknown> = {};
    const loadStart = loadStartMs(results.flat());
    groups.forEach(({ group, args }, i) => {
      const r = results[i] as LoadResult[];
      const summary = summaries[i] as Summary;
      const own = groupMetrics(r, summary);
      if (faulted) Object.assign(own, faultMetrics(summary, faulted.pod, after));
      if (file.event?.type === 'scale' && event) Object.assign(own, newPodMetrics(r, event, after, loadStart));
      if (group.client === 'k6') Object.assign(own, k6Metrics(r as K6LoadResult[]));
      for (const [key, value] of Object.entries(own)) metrics[`${group.name}.${key}`] = value;
      groupDetails[group.name] = {
        client: group.client,
        target:
          group.client === 'k6'
            ? `${group.target ?? 'envoy'} (${group.protocol ?? 'grpc'})`
            : args[args.indexOf('--target') + 1],
        strategy: group.strategy ?? null,
        clients: r.map((c) => ({ client: c.client, zone: c.zone, zoneRouting: c.zoneRouting ?? null })),
        perPod: summary.perPod,
        perZone: summary.perZone,
        totals: summary.totals,
        metrics: roundAll(own),
      };
    });
    const all = results.flat();
    metrics['all.requests'] = sum(all.map((r) => r.totals.requests));
    metrics['all.errors'] = sum(all.map((r) => r.totals.errors));
    let envoy: EnvoyIngressStats[] | undefined;
    if (throughEnvoy) {
      envoy = await envoyStats(session);
      Object.assign(metrics, envoyMetrics(envoy, envoyBefore));
    }
    if (file.backends.zoneDown)
      Object.assign(metrics, zoneDownMetrics(file, results[primaryIndex(file)] ?? [], after, setupDetails));
    if (event) {
      const prefix = eventPrefix(file);
      for (const [key, value] of Object.entries(event.metrics)) metrics[`${prefix}.${key}`] = value;
      if (file.event?.type === 'rollout-restart') {
        const primary = results[primaryIndex(file)] ?? [];
        const startS = (event.startMs - loadStart) / 1000;
        // Steady state: before the rollout and after the last old pod left the slices.
        const drainedS = (event.drainedMs - loadStart) / 1000;
        const during = (t: number) => t >= Math.floor(startS) && t < Math.ceil(drainedS);
        metrics['rollout.steadyP99Ms'] = windowPercentile(primary, 99, (t) => !during(t));
        metrics['rollout.p99Ms'] = windowPercentile(primary, 99, during);
        // How late the clients' own calls went out, same windows: a client waiting for the CPU shows here
        // before any backend or routing is involved, and open-loop latency counts that wait.
        metrics['rollout.steadySendLagP99Ms'] = windowPercentile(primary, 99, (t) => !during(t), 'sendLagHdr');
        metrics['rollout.sendLagP99Ms'] = windowPercentile(primary, 99, during, 'sendLagHdr');
        const served = new Set(all.flatMap((r) => r.perPod.filter((p) => p.requests > 0).map((p) => p.pod)));
        metrics['rollout.newPodsUnserved'] = after.filter((p) => !served.has(p.name)).length;
        metrics['rollout.maxFirstServeAfterReadyS'] = firstServeAfterReady(all, event.newPods);
      }
    }
    const assertions = checkAssertions(file.assert, metrics);
    const primary = summaries[primaryIndex(file)] as Summary;
    const skewRatio = comparedSkew(file, metrics);
    if (skewRatio) process.stderr.write(`[e2e]   ${skewRatio.text}\n`);
    return buildResult(file, session, began, primary, metrics, assertions, {
      file: `${file.name}.yaml`,
      description: file.description,
      groups: groupDetails,
      ...(skewRatio ? { skewRatio: skewRatio.ratio } : {}),
      ...(faulted ? { faultedPod: faulted.pod, fault: faulted.fault } : {}),
      ...(envoy ? { envoy } : {}),
      ...setupDetails,
      ...(event
        ? {
            event: file.event?.type,
            eventStartS: round((event.startMs - loadStart) / 1000),
            eventEndS: round((event.endMs - loadStart) / 1000),
            eventDrainedS: round((event.drainedMs - loadStart) / 1000),
            ...(file.event?.type === 'rollout-restart'
              ? {
                  rolloutS: round((event.endMs - event.startMs) / 1000),
                  rolloutStartS: round((event.startMs - loadStart) / 1000),
                  rolloutEndS: round((event.endMs - loadStart) / 1000),
                }
              : {}),
            ...event.details,
          }
        : {}),
    });
  } finally {
    for (const restore of restores.reverse()) {
      await restore().catch((error: Error) =>
        process.stderr.write(`[e2e]   could not undo a set-up step of ${file.name}: ${error.message}\n`),
      );
    }
  }
}

function primaryIndex(file: ScenarioFile): number {
  return Math.max(0, file.primary === undefined ? 0 : file.load.findIndex((g) => g.name === file.primary));
}

function eventPrefix(file: ScenarioFile): string {
  switch (file.event?.type) {
    case 'rollout-restart':
      return 'rollout';
    case 'scale':
      return 'scale';
    default:
      return 'outage';
  }
}

function clientZones(session: ClusterSession, group: LoadGroup): string[] {
  const zones = group.zones ?? session.cluster.zones;
  return zones.flatMap((zone) => Array.from({ length: group.clientsPerZone }, () => zone));
}

/** One k6 pod per client, as skewless load pods are placed; k6 counts per pod only the pods it is told of. */
function k6Specs(session: ClusterSession, file: ScenarioFile, group: LoadGroup, pods: readonly EchoPod[]) {
  return clientZones(session, group).map((zone, i) => ({
    name: `${file.name}-${group.name}-${i}`,
    zone,
    target: group.target ?? 'envoy',
    protocol: group.protocol ?? 'grpc',
    rate: group.rate,
    durationS: group.durationS,
    pods: pods.map((p) => p.name),
    vus: group.channels,
    delayMs: group.delayMs,
  }));
}

/** What only k6 reports: calls it could not start (no free VU) and the HTTP versions negotiated. */
function k6Metrics(results: readonly K6LoadResult[]): Record<string, number | null> {
  const protocols = results.flatMap((r) => Object.entries(r.httpProtocols));
  const http = sum(protocols.map(([, n]) => n));
  return {
    droppedCalls: sum(results.map((r) => r.droppedIterations)),
    callErrors: sum(results.map((r) => r.totals.errors - r.droppedIterations)),
    httpH2Share: http > 0 ? sum(protocols.filter(([p]) => p === 'HTTP/2.0').map(([, n]) => n)) / http : null,
  };
}

/**
 * Envoy's own view of the ingress, from every Envoy's admin stats: xDS health, and how each Envoy
 * routed the scenario's requests (counters minus `before`): to its own zone, and evenly over its pods.
 */
function envoyMetrics(
  stats: readonly EnvoyIngressStats[],
  before: readonly EnvoyIngressStats[],
): Record<string, number | null> {
  const clusters = stats.flatMap((e) => e.clusters);
  const downstream = stats.map((e) => e.downstream);
  const connections = sum(downstream.map((d) => d.cxTotal));
  let sameZone = 0;
  let routed = 0;
  let worstEvenness: number | null = null;
  for (const envoy of stats) {
    const earlier = before.find((e) => e.pod === envoy.pod);
    for (const cluster of envoy.clusters) {
      const earlierHosts = earlier?.clusters.find((c) => c.name === cluster.name)?.hosts ?? [];
      const sent = cluster.hosts.map((h) => ({
        zone: h.zone,
        requests: h.rqTotal - (earlierHosts.find((e) => e.address === h.address)?.rqTotal ?? 0),
      }));
      routed += sum(sent.map((h) => h.requests));
      const local = sent.filter((h) => h.zone === envoy.zone);
      sameZone += sum(local.map((h) => h.requests));
      const { maxOverMean } = evenness(local.map((h) => h.requests));
      if (maxOverMean !== null && sum(local.map((h) => h.requests)) >= 30)
        worstEvenness = Math.max(worstEvenness ?? 0, maxOverMean);
    }
  }
  return {
    'envoy.instances': stats.length,
    'envoy.unreadable': stats.filter((e) => e.error !== undefined).length,
    'envoy.notConnectedToControlPlane': stats.filter((e) => !e.controlPlaneConnected).length,
    'envoy.updatesAccepted': sum(stats.map((e) => e.lds.success + e.cds.success + e.rds.success)),
    'envoy.updatesRejected': sum(stats.map((e) => e.lds.rejected + e.cds.rejected + e.rds.rejected)),
    'envoy.downstreamRequests': sum(downstream.map((d) => d.rqTotal)),
    'envoy.downstream5xx': sum(downstream.map((d) => d.rq5xx)),
    'envoy.downstreamHttp2Share': connections > 0 ? sum(downstream.map((d) => d.cxHttp2)) / connections : null,
    'envoy.upstreamRequests': sum(clusters.map((c) => c.rqTotal)),
    'envoy.upstream5xx': sum(clusters.map((c) => c.rq5xx)),
    'envoy.routedRequests': routed,
    'envoy.sameZoneShare': routed > 0 ? sameZone / routed : null,
    'envoy.maxOverMeanInZone': worstEvenness,
  };
}

async function loadArgs(session: ClusterSession, group: LoadGroup): Promise<string[]> {
  if (group.client === 'k6') return [];
  const target =
    group.client === 'skewless'
      ? ECHO_TARGET
      : group.client === 'pick-first'
        ? await session.echoClusterIp()
        : ECHO_HEADLESS_TARGET;
  return [
    '--mode',
    group.client,
    '--target',
    target,
    ...(group.client === 'skewless' ? ['--control-plane', await session.controlPlaneAddress()] : []),
    ...(group.strategy ? ['--strategy', group.strategy] : []),
    '--rate',
    String(group.rate),
    '--duration-s',
    String(group.durationS),
    '--channels',
    String(group.channels),
    ...(group.warmupS > 0 ? ['--warmup-s', String(group.warmupS)] : []),
    ...(group.delayMs > 0 ? ['--delay-ms', String(group.delayMs)] : []),
  ];
}

/** Pods per zone and a zone down: changes to the Deployment and nodes, each with its undo. */
async function shapeFleet(session: ClusterSession, file: ScenarioFile, restores: Restore[]): Promise<void> {
  const zones = session.cluster.zones;
  const { podsPerZone, zoneDown } = file.backends;
  if (podsPerZone !== undefined) {
    const original = await session.echoReplicas();
    if (original !== podsPerZone * zones.length) {
      restores.push(async () => {
        await session.scaleDeployment('echo', original);
        await session.waitDeploymentReady('echo', 120_000);
      });
      await session.scaleDeployment('echo', podsPerZone * zones.length);
      await session.waitDeploymentReady('echo', 120_000);
      await waitUntil(async () => (await session.echoPods()).length === podsPerZone * zones.length, 60_000);
    }
  }
  if (zoneDown) {
    const all = await session.echoPods();
    const inZone = all.filter((p) => p.zone === zoneDown.zone);
    const node = inZone[0]?.node;
    if (!node)
      throw new Error(`backends.zoneDown.zone: no echo pod runs in '${zoneDown.zone}' (zones: ${zones.join(', ')})`);
    restores.push(async () => {
      await session.setScenarioTaint(node, false);
      await session.waitDeploymentReady('echo', 120_000);
    });
    await session.setScenarioTaint(node, true);
    // The ReplicaSet replaces them, but the taint and the zone spread constraint keep the
    // replacements Pending: a real zone with fewer pods, not a simulated one.
    for (const pod of inZone.slice(zoneDown.keep)) await session.deletePod(pod.name);
    const want = all.length - Math.max(0, inZone.length - zoneDown.keep);
    await waitUntil(async () => {
      const ready = (await session.echoPods()).filter((p) => p.ready);
      return ready.filter((p) => p.zone === zoneDown.zone).length === zoneDown.keep && ready.length === want;
    }, 60_000);
  }
}

/** Applies the file's faults through each backend's PUT /fault, from a pod inside the cluster network. */
async function applyFaults(
  session: ClusterSession,
  file: ScenarioFile,
  pods: readonly EchoPod[],
  restores: Restore[],
): Promise<{ pod: string; fault: Record<string, number> } | undefined> {
  let first: { pod: string; fault: Record<string, number> } | undefined;
  for (const [i, fault] of file.backends.faults.entries()) {
    const candidates = pods.filter((p) => fault.zone === undefined || p.zone === fault.zone).sort(byName);
    const pod = candidates[fault.pod];
    if (!pod)
      throw new Error(
        `backends.faults[${i}]: no echo pod #${fault.pod}${fault.zone ? ` in ${fault.zone}` : ''} (${candidates.length} there)`,
      );
    const body: Record<string, number> = {};
    if (fault.latencyMs !== undefined) body.latencyMs = fault.latencyMs;
    if (fault.errorRate !== undefined) body.errorRate = fault.errorRate;
    restores.push(() => putFault(session, pod, { latencyMs: 0, errorRate: 0 }));
    await putFault(session, pod, body);
    first ??= { pod: pod.name, fault: body };
  }
  return first;
}

async function putFault(session: ClusterSession, pod: EchoPod, body: Record<string, number>): Promise<void> {
  const url = `http://${pod.ip}:${BACKEND_HTTP_PORT}/fault`;
  const { phase, log } = await session.runPod(
    'fault',
    {
      zone: pod.zone,
      image: pinnedVersion('CURL_IMAGE'),
      args: [
        '-sS',
        '--fail-with-body',
        '-X',
        'PUT',
        '-H',
        'content-type: application/json',
        '--data',
        JSON.stringify(body),
        url,
      ],
    },
    60_000,
  );
  if (phase !== 'Succeeded') throw new Error(`PUT ${url} ${JSON.stringify(body)} failed: ${log.trim()}`);
}

async function runEvent(
  session: ClusterSession,
  file: ScenarioFile,
  before: readonly EchoPod[],
  restores: Restore[],
  sliceEvents: readonly EndpointSliceEvent[] | undefined,
): Promise<EventRecord> {
  const event = file.event;
  const startMs = Date.now();
  if (event?.type === 'rollout-restart') {
    await session.rolloutRestart('echo');
    await session.waitDeploymentReady('echo', 180_000);
    const endMs = Date.now();
    // Old pods drain after the Deployment counts as done; wait until they are gone from the slices.
    const oldPods = new Set(before.map((p) => p.name));
    const events = sliceEvents ?? [];
    await waitUntil(() => !(events.at(-1)?.endpoints ?? []).some((e) => oldPods.has(e.pod)), 60_000);
    const drainedMs = Date.now();
    const transitions = endpointTransitions(events, oldPods);
    return {
      startMs,
      endMs,
      drainedMs,
      newPods: await session.echoReadyTimes(),
      metrics: {
        durationS: (endMs - startMs) / 1000,
        oldPods: before.length,
        terminatingServingMissed: before.length - transitions.terminatingServing,
        terminatingNotServingMissed: before.length - transitions.terminatingNotServing,
        sliceChanges: events.length,
      },
      details: { endpointSliceEvents: events.length, transitions },
    };
  }
  if (event?.type === 'scale') {
    const original = await session.echoReplicas();
    restores.push(async () => {
      await session.scaleDeployment('echo', original);
      await session.waitDeploymentReady('echo', 120_000);
    });
    const old = new Set(before.map((p) => p.name));
    await session.scaleDeployment('echo', event.podsPerZone * session.cluster.zones.length);
    await session.waitDeploymentReady('echo', 120_000);
    const endMs = Date.now();
    const ready = await session.echoReadyTimes();
    const newPods = new Map([...ready].filter(([pod]) => !old.has(pod)));
    return {
      startMs,
      endMs,
      drainedMs: endMs,
      newPods,
      metrics: { readyAfterS: (endMs - startMs) / 1000, newPods: newPods.size },
      details: { newPods: [...newPods.keys()] },
    };
  }
  if (event?.type === 'control-plane-outage') {
    restores.push(async () => {
      await session.scaleDeployment('skewless-control-plane', 1);
      await session.waitDeploymentReady('skewless-control-plane', 120_000);
    });
    await session.scaleDeployment('skewless-control-plane', 0);
    await waitUntil(async () => (await session.podsOf('app=skewless-control-plane')) === 0, 60_000);
    const goneMs = Date.now();
    await sleep(event.forS * 1000);
    await session.scaleDeployment('skewless-control-plane', 1);
    await session.waitDeploymentReady('skewless-control-plane', 120_000);
    const endMs = Date.now();
    return {
      startMs,
      endMs,
      drainedMs: endMs,
      newPods: new Map(),
      metrics: { downS: (endMs - goneMs) / 1000, goneAfterS: (goneMs - startMs) / 1000 },
      details: {},
    };
  }
  throw new Error(`unknown event ${JSON.stringify(event)}`);
}

/** The faulted pod's requests over the mean of the other pods: how much the balancer kept off it. */
function faultMetrics(summary: Summary, pod: string, pods: readonly EchoPod[]): Record<string, number | null> {
  const others = pods
    .filter((p) => p.name !== pod)
    .map((p) => summary.perPod.find((r) => r.pod === p.name)?.requests ?? 0);
  const mean = sum(others) / Math.max(1, others.length);
  const own = summary.perPod.find((r) => r.pod === pod)?.requests ?? 0;
  return { faultedPodShareOfMean: mean > 0 ? own / mean : null };
}

/**
 * Pods the event brought: each one's requests from 10 s after the last of them was Ready to the end,
 * over the mean per pod in that window; the lowest of them (1 = a full share).
 */
function newPodMetrics(
  results: readonly LoadResult[],
  event: EventRecord,
  pods: readonly EchoPod[],
  loadStart: number,
): Record<string, number | null> {
  const lastReady = Math.max(...event.newPods.values());
  const from = Math.ceil((lastReady - loadStart) / 1000 + 10);
  const window = new Map<string, number>();
  let seconds = 0;
  for (const r of results) {
    const points = r.timeline.filter((p) => p.t >= from && p.t < Math.floor(r.durationS));
    seconds = Math.max(seconds, points.length);
    for (const p of points)
      for (const [pod, n] of Object.entries(p.perPod)) window.set(pod, (window.get(pod) ?? 0) + n);
  }
  if (seconds < 3) return { newPodsMinShareOfMean: null, newPodsWindowS: seconds };
  const mean = sum(pods.map((p) => window.get(p.name) ?? 0)) / Math.max(1, pods.length);
  const shares = [...event.newPods.keys()].map((pod) => (window.get(pod) ?? 0) / mean);
  return { newPodsMinShareOfMean: mean > 0 ? Math.min(...shares) : null, newPodsWindowS: seconds };
}

/** Latest, over the new pods, of (first second a client got an answer from it − when it became Ready). */
function firstServeAfterReady(results: readonly LoadResult[], readyAt: ReadonlyMap<string, number>) {
  let worst: number | null = null;
  for (const [pod, ready] of readyAt) {
    const first = Math.min(
      ...results.map((r) => {
        const point = r.timeline.find((p) => (p.perPod[pod] ?? 0) > 0);
        return point === undefined ? Number.POSITIVE_INFINITY : Date.parse(r.startedAt) + point.t * 1000;
      }),
    );
    const lag = Number.isFinite(first) ? Math.max(0, (first - ready) / 1000) : Number.POSITIVE_INFINITY;
    worst = Math.max(worst ?? 0, lag);
  }
  return worst === Number.POSITIVE_INFINITY ? null : worst;
}

/** Envoy's zone-aware formula against what the clients in the shrunken zone kept local. */
function zoneDownMetrics(
  file: ScenarioFile,
  results: readonly LoadResult[],
  pods: readonly EchoPod[],
  details: Record<string, unknown>,
): Record<string, number | null> {
  const zone = file.backends.zoneDown?.zone ?? '';
  const clients = results.filter((r) => r.zone === zone);
  const client = clients[0];
  // The client shares are the fleet's as the control plane published them (or equal ones when it did
  // not): take the ones this client used rather than assume them.
  const shares = client?.zoneRouting?.clientShares ?? {};
  const shareTotal = sum(Object.values(shares));
  const zones = new Set(pods.map((p) => p.zone)).size;
  const clientShare = shareTotal > 0 ? (shares[zone] ?? 0) / shareTotal : 1 / Math.max(1, zones);
  const upstreamShare = pods.filter((p) => p.zone === zone).length / Math.max(1, pods.length);
  const expected = clientShare > 0 ? Math.min(1, upstreamShare / clientShare) : null;
  const locals = clients.map((r) => r.metrics.sameZoneShare).filter((v): v is number => v !== null);
  const local = locals.length > 0 ? sum(locals) / locals.length : null;
  Object.assign(details, {
    zoneDown: {
      zone,
      readyPods: pods.length,
      clientShares: shares,
      source: client?.zoneRouting?.clientSharesSource ?? null,
    },
  });
  return {
    'zoneDown.localShare': local,
    'zoneDown.expectedLocalShare': expected,
    'zoneDown.localShareError': local !== null && expected !== null ? Math.abs(local - expected) : null,
  };
}

/** The ratio of a baseline group's skew to ours, when the file has both (printed, and in details). */
function comparedSkew(file: ScenarioFile, metrics: Record<string, number | null>) {
  // With an event, a fault or a zone down, uneven is what the scenario makes: no skew to compare.
  if (file.event || file.backends.faults.length > 0 || file.backends.zoneDown) return undefined;
  const ours = file.load.find((g) => g.client === 'skewless');
  const baseline = file.load.find((g) => g.client !== 'skewless');
  if (!ours || !baseline) return undefined;
  const a = metrics[`${ours.name}.maxOverMean`];
  const b = metrics[`${baseline.name}.maxOverMean`];
  if (typeof a !== 'number' || typeof b !== 'number' || a <= 0) return undefined;
  return {
    ratio: round(b / a),
    text: `per-pod max/mean: ${ours.name} ${round(a)} vs ${baseline.name} (${baseline.client}) ${round(b)} — ${round(b / a)}× more even`,
  };
}

function buildResult(
  file: ScenarioFile,
  session: ClusterSession,
  began: Date,
  summary: Summary,
  metrics: Record<string, number | null>,
  assertions: Assertion[],
  details: Record<string, unknown>,
): ScenarioResult {
  return {
    scenario: file.name,
    driver: session.cluster.kind,
    startedAt: began.toISOString(),
    durationS: round((Date.now() - began.getTime()) / 1000),
    perPod: summary.perPod,
    perZone: summary.perZone,
    totals: summary.totals,
    metrics: roundAll({
      maxOverMean: summary.metrics.maxOverMean,
      cv: summary.metrics.cv,
      sameZoneShare: summary.metrics.sameZoneShare,
      ...metrics,
    }),
    assertions,
    timeline: summary.timeline,
    details,
  };
}

function roundAll(metrics: Record<string, number | null>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, v === null ? null : round(v)]));
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

function uniquePods(pods: readonly EchoPod[]): EchoPod[] {
  return [...new Map(pods.map((p) => [p.name, p])).values()];
}

function byName(a: EchoPod, b: EchoPod): number {
  return a.name.localeCompare(b.name);
}

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const began = performance.now();
  while (!(await check())) {
    if (performance.now() - began > timeoutMs) throw new Error(`condition not met after ${timeoutMs} ms`);
    await sleep(200);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
