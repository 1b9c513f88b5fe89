/**
 * The open loop against real echo backends: calls go out on schedule whatever the backend does,
 * latency counts from the scheduled time, overload and unreachable targets are data, and every run
 * ends by itself or on a stop signal.
 */
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_OVERLOADED, loadConfig, runLoad, type TimelinePoint } from '../src/index.ts';
import { type EchoPods, startEchoPods, unusedPort } from './echo-pods.ts';
import { silent } from './silent-logger.ts';

describe('open loop', () => {
  let echo: EchoPods;
  let one: string;
  beforeAll(async () => {
    echo = await startEchoPods(['a']);
    one = echo.servers[0]?.address as string;
  });
  afterAll(() => echo.close());

  /** Samples the backend's calls in flight while `body` runs, and returns the highest seen. */
  async function peakInFlight<T>(body: () => Promise<T>): Promise<{ result: T; peak: number }> {
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, echo.servers[0]?.inFlight() ?? 0);
    }, 5);
    try {
      return { result: await body(), peak };
    } finally {
      clearInterval(sampler);
    }
  }

  it('sends rate × duration calls, second by second', async () => {
    const progress: TimelinePoint[] = [];
    const result = await runLoad(loadConfig({ mode: 'pick-first', target: one, rate: 200, durationS: 2 }), {
      logger: silent,
      onProgress: (point) => progress.push(point),
    });
    expect(result.totals.requests).toBeGreaterThanOrEqual(300);
    expect(result.totals.requests).toBeLessThanOrEqual(500);
    expect(result.totals.byCode).toEqual({ OK: result.totals.requests });
    expect(result.stoppedEarly).toBe(false);
    expect(result.durationS).toBe(2);
    expect(result.timeline.map((p) => p.requests)).toEqual([200, 200]);
    // One progress report per measured second, in order.
    expect(progress.map((p) => p.t)).toEqual([0, 1]);
    expect(result.latencyMs.p50).toBeGreaterThan(0);
    expect(result.latencyMs.p50).toBeLessThanOrEqual(result.latencyMs.p99 as number);
    expect(result.latencyMs.p99).toBeLessThanOrEqual(result.latencyMs.max as number);
  });

  it('sends a call when it is due even while earlier calls are still in flight', async () => {
    const { result, peak } = await peakInFlight(() =>
      runLoad(loadConfig({ mode: 'pick-first', target: one, rate: 100, durationS: 1, delayMs: 300 }), {
        logger: silent,
      }),
    );
    expect(result.totals.byCode).toEqual({ OK: 100 });
    // A closed loop on one channel would have one call in flight; 300 ms × 100/s is about 30.
    expect(peak).toBeGreaterThanOrEqual(15);
    // The second's own histogram holds every one of its calls, each held 300 ms by the backend.
    const [second] = result.timeline;
    const histogram = decodeFromCompressedBase64(second?.latencyHdr ?? '');
    expect(histogram.totalCount).toBe(100);
    expect(histogram.getValueAtPercentile(1) / 1000).toBeGreaterThanOrEqual(300);
    expect(second?.p99Ms).toBe(Math.round(histogram.getValueAtPercentile(99)) / 1000);
    expect(result.latencyMs.p50).toBeGreaterThanOrEqual(300);
  });

  it("records how late each second's calls went out: a blocked event loop shows in that second's send lag", async () => {
    // Block this process's event loop for 300 ms a little into the measured run's first second.
    const blocker = setTimeout(() => {
      const until = performance.now() + 300;
      while (performance.now() < until) {}
    }, 400);
    const result = await runLoad(loadConfig({ mode: 'pick-first', target: one, rate: 100, durationS: 2 }), {
      logger: silent,
    });
    clearTimeout(blocker);
    const lags = result.timeline.map((p) => decodeFromCompressedBase64(p.sendLagHdr ?? ''));
    // Every call scheduled in a second is in that second's send-lag histogram…
    expect(lags.map((h) => h.totalCount)).toEqual(result.timeline.map((p) => p.requests));
    // …and the calls due while the loop was blocked went out up to 300 ms late.
    expect(Math.max(...lags.map((h) => h.maxValue)) / 1000).toBeGreaterThanOrEqual(200);
  });

  it('counts calls beyond max-in-flight as CLIENT_OVERLOADED, without sending them', async () => {
    const { result, peak } = await peakInFlight(() =>
      runLoad(loadConfig({ mode: 'pick-first', target: one, rate: 100, durationS: 1, delayMs: 300, maxInFlight: 5 }), {
        logger: silent,
      }),
    );
    const overloaded = result.totals.byCode[CLIENT_OVERLOADED] ?? 0;
    expect(overloaded).toBeGreaterThan(0);
    expect(result.totals.ok).toBeGreaterThanOrEqual(5);
    expect(result.totals.ok + overloaded).toBe(result.totals.requests);
    expect(result.totals.errors).toBe(overloaded);
    expect(peak).toBeLessThanOrEqual(5);
    expect(result.latencyMs.p99).toBeGreaterThanOrEqual(300);
  });

  it('measures latency from the scheduled send time, so a stalled sender shows up as latency', async () => {
    const stallMs = 250;
    // Block the event loop once, mid-run: calls due meanwhile go out late, and that lateness counts.
    const stall = setTimeout(() => {
      const until = performance.now() + stallMs;
      while (performance.now() < until) {}
    }, 300);
    const result = await runLoad(loadConfig({ mode: 'pick-first', target: one, rate: 200, durationS: 1 }), {
      logger: silent,
    });
    clearTimeout(stall);
    expect(result.totals.byCode).toEqual({ OK: 200 });
    expect(result.sendLagMs.max).toBeGreaterThanOrEqual(stallMs * 0.8);
    expect(result.latencyMs.max).toBeGreaterThanOrEqual(stallMs * 0.8);
  });

  it('makes warm-up calls without counting them', async () => {
    const before = echo.servers[0]?.calls() ?? 0;
    const result = await runLoad(
      loadConfig({ mode: 'pick-first', target: one, rate: 100, durationS: 1, warmupS: 0.5 }),
      { logger: silent },
    );
    const served = (echo.servers[0]?.calls() ?? 0) - before;
    expect(result.totals.requests).toBe(100);
    expect(served).toBeGreaterThanOrEqual(150);
    expect(result.timeline).toHaveLength(1);
  });

  it('stops early on the signal and still returns what it measured', async () => {
    const controller = new AbortController();
    const result = await runLoad(loadConfig({ mode: 'pick-first', target: one, rate: 100, durationS: 60 }), {
      logger: silent,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    expect(result.stoppedEarly).toBe(true);
    expect(result.durationS).toBeGreaterThanOrEqual(1);
    expect(result.durationS).toBeLessThan(60);
    expect(result.totals.requests).toBeGreaterThanOrEqual(100);
    expect(result.totals.requests).toBeLessThan(6000);
    expect(result.totals.byCode).toEqual({ OK: result.totals.requests });
  });

  it('returns an empty result when stopped before it starts', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await runLoad(loadConfig({ mode: 'pick-first', target: one, rate: 100, durationS: 60 }), {
      logger: silent,
      signal: controller.signal,
    });
    expect(result.stoppedEarly).toBe(true);
    expect(result.totals.requests).toBe(0);
    expect(result.latencyMs.p50).toBeNull();
  });
});

describe('errors are data', () => {
  it('counts calls to a target with nothing listening as UNAVAILABLE or DEADLINE_EXCEEDED, and completes', async () => {
    const port = await unusedPort();
    const result = await runLoad(
      loadConfig({
        mode: 'pick-first',
        target: `127.0.0.1:${port}`,
        rate: 50,
        durationS: 1,
        deadlineMs: 300,
        waitReadyS: 0.2,
      }),
      { logger: silent },
    );
    expect(result.waitReady.ready).toBe(false);
    expect(result.totals.requests).toBe(50);
    expect(result.totals.ok).toBe(0);
    expect(result.totals.errors).toBe(50);
    for (const code of Object.keys(result.totals.byCode)) expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(code);
    expect(result.perPod).toEqual([]);
    expect(result.timeline[0]?.errors).toBe(50);
    expect(result.metrics).toEqual({ maxOverMean: null, cv: null, sameZoneShare: null });
  });
});
