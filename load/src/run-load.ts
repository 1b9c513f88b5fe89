/**
 * One open-loop run: build the channels for the mode, wait until they are ready, then send Echo
 * calls on a fixed schedule spread round-robin over the channels — a call goes out when it is due
 * even if earlier ones have not answered — and record who answered and how long after its
 * *scheduled* time. Bounded: the schedule ends after the warm-up plus the duration, then in-flight
 * calls end by their deadline. A stop signal ends the schedule early and still returns a result.
 */
import * as grpc from '@grpc/grpc-js';
import type { BalancerSnapshot } from '@skewless/client';
import { createLogger, type EchoClient, type Logger } from '@skewless/shared';
import { createEchoClients } from './load-channels.ts';
import type { LoadConfig } from './load-config.ts';
import { sameZoneShare } from './load-metrics.ts';
import type { LoadRecorder } from './load-recorder.ts';
import {
  CLIENT_OVERLOADED,
  type ControlPlaneSummary,
  type LoadResult,
  type TimelinePoint,
  type ZoneRoutingSummary,
} from './load-result.ts';
import { OpenLoopSchedule, type ScheduledRequest } from './open-loop-schedule.ts';
import { waitChannelsReady } from './wait-ready.ts';

export interface RunLoadOptions {
  readonly logger?: Logger;
  /** Aborting stops the schedule; calls in flight finish (bounded by their deadline), then the result is returned. */
  readonly signal?: AbortSignal;
  /**
   * Called once per measured second, when it has passed, with that second as recorded so far
   * (calls of it still in flight then are only in the final result's timeline). Never awaited.
   */
  onProgress?(second: TimelinePoint): void;
}

/** Extra time after the last deadline before calls still open are cancelled (they should have ended). */
const DRAIN_GRACE_MS = 1000;

export async function runLoad(config: LoadConfig, options: RunLoadOptions = {}): Promise<LoadResult> {
  const logger = options.logger ?? createLogger('load', config.logLevel);
  // Loaded on use: the baseline modes run without the client library.
  const registration =
    config.mode === 'skewless'
      ? (await import('@skewless/client')).register(
          {
            controlPlane: config.controlPlane as string,
            ...(config.zone ? { zone: config.zone } : {}),
            ...(config.strategy ? { defaults: { strategy: config.strategy } } : {}),
          },
          { logger: logger.child({ component: 'skewless-client' }) },
        )
      : undefined;
  const clients = createEchoClients(config.mode, config.target, config.channels);
  try {
    const waitBegan = performance.now();
    const ready =
      config.waitReadyS > 0 && !options.signal?.aborted
        ? await waitChannelsReady(clients, config.waitReadyS * 1000, options.signal)
        : false;
    const waitReady = { ready, waitedMs: round(performance.now() - waitBegan) };
    if (config.waitReadyS > 0 && !ready && !options.signal?.aborted)
      logger.warn({ target: config.target, waitedMs: waitReady.waitedMs }, 'channels not ready; starting anyway');

    // Loaded on use, like the client library: every pod's CLI imports this package for its flags.
    const { LoadRecorder } = await import('./load-recorder.ts');
    const run = await drive(config, clients, new LoadRecorder(), options, logger);

    const snapshot = registration?.debugSnapshot();
    const zone = config.zone ?? snapshot?.balancers.find((b) => b.localZone)?.localZone ?? null;
    const perZone = run.recorder.perZone();
    const controlPlane = snapshot?.controlPlanes.find((c) => c.address === config.controlPlane);
    const balancer = snapshot?.balancers[0];
    return {
      mode: config.mode,
      target: config.target,
      zone,
      client: config.client,
      startedAt: run.startedAt,
      durationS: round(run.measuredS),
      rate: config.rate,
      channels: config.channels,
      warmupS: config.warmupS,
      stoppedEarly: run.stoppedEarly,
      waitReady,
      totals: run.recorder.totals(),
      perPod: run.recorder.perPod(),
      perZone,
      latencyMs: run.recorder.latencyMs(),
      sendLagMs: run.recorder.sendLagMs(),
      timeline: run.recorder.timeline(Math.ceil(run.measuredS - 1e-9)),
      metrics: {
        ...run.recorder.spread(config.expectedPods),
        sameZoneShare: sameZoneShare(perZone, zone ?? undefined),
      },
      ...(controlPlane ? { controlPlane: controlPlaneSummary(controlPlane) } : {}),
      ...(balancer ? { zoneRouting: zoneRoutingSummary(balancer) } : {}),
    };
  } finally {
    for (const client of clients) client.close();
    // The shared ADS stream would keep the process alive after the run.
    registration?.close();
  }
}

interface Run {
  readonly recorder: LoadRecorder;
  readonly startedAt: string;
  readonly measuredS: number;
  readonly stoppedEarly: boolean;
}

function drive(
  config: LoadConfig,
  clients: readonly EchoClient[],
  recorder: LoadRecorder,
  options: RunLoadOptions,
  logger: Logger,
) {
  const began = performance.now();
  const schedule = new OpenLoopSchedule({
    startMs: began,
    rate: config.rate,
    warmupS: config.warmupS,
    durationS: config.durationS,
  });
  const startedAt = new Date(Date.now() + (schedule.measureStartMs - began)).toISOString();
  const measuredSeconds = Math.ceil((schedule.total - schedule.warmupCount) / config.rate - 1e-9);
  const open = new Set<grpc.ClientUnaryCall>();
  let stoppedAtMs: number | undefined;
  let sendFailures = 0;

  return new Promise<Run>((resolve) => {
    let sendTimer: NodeJS.Timeout | undefined;
    let progressTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let emitted = 0;
    let finished = false;

    const emit = (upTo: number) => {
      for (; emitted < upTo; emitted++) {
        try {
          options.onProgress?.(recorder.point(emitted));
        } catch (error) {
          logger.warn({ err: error }, 'onProgress threw');
        }
      }
    };
    const nextProgress = () => {
      if (emitted >= measuredSeconds || stoppedAtMs !== undefined) return;
      const dueMs = schedule.measureStartMs + (emitted + 1) * 1000;
      // Node may fire a timer up to a millisecond early against performance.now(): wait the rest.
      progressTimer = setTimeout(
        () => {
          if (performance.now() >= dueMs) emit(emitted + 1);
          nextProgress();
        },
        Math.max(1, Math.ceil(dueMs - performance.now())),
      );
    };
    const finishIfDone = () => {
      if (finished || !schedule.done || open.size > 0) return;
      finished = true;
      clearTimeout(sendTimer);
      clearTimeout(progressTimer);
      clearTimeout(drainTimer);
      options.signal?.removeEventListener('abort', onAbort);
      const endMs = schedule.measureStartMs + measuredSeconds * 1000;
      const stoppedEarly = stoppedAtMs !== undefined && stoppedAtMs < endMs;
      const measuredS = stoppedEarly
        ? Math.min(config.durationS, Math.max(0, ((stoppedAtMs as number) - schedule.measureStartMs) / 1000))
        : config.durationS;
      emit(Math.ceil(measuredS - 1e-9));
      resolve({ recorder, startedAt, measuredS, stoppedEarly });
    };
    const scheduleDone = () => {
      // Calls carry deadlines, so they end by themselves; this only guards against one that does not.
      drainTimer = setTimeout(() => {
        for (const call of open) call.cancel();
      }, config.deadlineMs + DRAIN_GRACE_MS);
      finishIfDone();
    };
    const onAbort = () => {
      if (schedule.done) return;
      stoppedAtMs = performance.now();
      schedule.stop();
      clearTimeout(sendTimer);
      clearTimeout(progressTimer);
      logger.info({ inFlight: open.size }, 'stopping: letting calls in flight finish');
      scheduleDone();
    };

    const send = (request: ScheduledRequest, nowMs: number) => {
      const client = clients[request.index % clients.length] as EchoClient;
      if (open.size >= config.maxInFlight) {
        if (request.measured) recorder.recordError(request.second, CLIENT_OVERLOADED);
        return;
      }
      if (request.measured) recorder.recordSent(request.second, nowMs - request.scheduledMs);
      const onEnd = (error: grpc.ServiceError | null, reply?: { pod: string; zone: string; node: string }) => {
        open.delete(call);
        if (request.measured) {
          const latencyMs = performance.now() - request.scheduledMs;
          if (error || !reply) recorder.recordError(request.second, codeName(error));
          else recorder.recordOk(request.second, { message: '', ...reply }, latencyMs);
        }
        if (schedule.done) finishIfDone();
      };
      let call: grpc.ClientUnaryCall;
      try {
        call = client.Echo(
          { message: 'load', delay_ms: config.delayMs },
          new grpc.Metadata(),
          { deadline: new Date(Date.now() + config.deadlineMs) },
          onEnd,
        );
      } catch (error) {
        if (sendFailures++ === 0) logger.error({ err: error }, 'could not start a call');
        if (request.measured) recorder.recordError(request.second, 'UNKNOWN');
        return;
      }
      open.add(call);
    };

    const tick = () => {
      const now = performance.now();
      for (const request of schedule.takeDue(now)) send(request, now);
      const nextMs = schedule.nextDueMs();
      if (nextMs === undefined) {
        if (stoppedAtMs === undefined) scheduleDone();
        return;
      }
      // Node timers fire ≥ 1 ms apart: at high rates each tick sends every call that came due meanwhile.
      sendTimer = setTimeout(tick, Math.max(0, nextMs - performance.now()));
    };

    if (options.signal?.aborted) {
      stoppedAtMs = performance.now();
      schedule.stop();
      finishIfDone();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    nextProgress();
    tick();
  });
}

function codeName(error: grpc.ServiceError | null): string {
  const code = error?.code;
  return code === undefined ? 'UNKNOWN' : (grpc.status[code] ?? String(code));
}

function controlPlaneSummary(status: ControlPlaneSummary): ControlPlaneSummary {
  return {
    address: status.address,
    connected: status.connected,
    acks: status.acks,
    nacks: status.nacks,
    streamsStarted: status.streamsStarted,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function zoneRoutingSummary(balancer: BalancerSnapshot): ZoneRoutingSummary {
  const routing = balancer.zoneRouting;
  return {
    localZone: balancer.localZone ?? null,
    mode: routing.mode,
    localShare: routing.mode === 'local-residual' ? routing.localPercentToRoute / 10_000 : null,
    clientShares: Object.fromEntries(Object.entries(balancer.clientShares.shares)),
    clientSharesSource: balancer.clientShares.source,
  };
}
