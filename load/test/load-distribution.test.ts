/**
 * Who answered, per mode, against real echo backends on 127.0.0.1: grpc-js's default pick-first pins a
 * channel to one pod (the kube-proxy baseline), round_robin and our client spread evenly.
 */

import type { XdsServer } from '@skewless/control-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, serviceEndpoints, startZonedBackends } from '../../client/test/backends.ts';
import { startControlPlane } from '../../client/test/control-plane-fixture.ts';
import { type LoadResult, loadConfig, runLoad } from '../src/index.ts';
import { type EchoPods, startConnectionCounter, startEchoPods } from './echo-pods.ts';
import { silent } from './silent-logger.ts';

function expectEvenWithin(result: LoadResult, pods: readonly string[], tolerance: number): void {
  const third = result.totals.ok / pods.length;
  const counts = Object.fromEntries(result.perPod.map((p) => [p.pod, p.requests]));
  for (const pod of pods) {
    expect(counts[pod], `${pod} of ${JSON.stringify(counts)}`).toBeGreaterThanOrEqual(third * (1 - tolerance));
    expect(counts[pod], `${pod} of ${JSON.stringify(counts)}`).toBeLessThanOrEqual(third * (1 + tolerance));
  }
}

describe('grpc-js baselines', () => {
  let echo: EchoPods;
  beforeAll(async () => {
    echo = await startEchoPods();
  });
  afterAll(() => echo.close());

  it('pick-first with one channel sends every call to one pod', async () => {
    const result = await runLoad(
      loadConfig({
        mode: 'pick-first',
        target: echo.ipv4Target,
        rate: 200,
        durationS: 1,
        // Where calls go, not how fast: a starved CI machine must not turn them into deadline errors.
        deadlineMs: 30_000,
        expectedPods: echo.pods,
      }),
      { logger: silent },
    );
    expect(result.totals.requests).toBe(200);
    expect(result.totals.byCode).toEqual({ OK: 200 });
    expect(result.perPod).toHaveLength(1);
    expect(result.perPod[0]?.requests).toBe(200);
    // One pod of three expected got everything: max/mean = 200 / (200/3).
    expect(result.metrics.maxOverMean).toBeCloseTo(3, 6);
    expect(result.metrics.cv).toBeCloseTo(Math.SQRT2, 6);
  });

  it('counts only the pods that answered unless told which to expect', async () => {
    const result = await runLoad(
      loadConfig({ mode: 'pick-first', target: echo.ipv4Target, rate: 100, durationS: 0.5, deadlineMs: 30_000 }),
      { logger: silent },
    );
    expect(result.perPod).toHaveLength(1);
    expect(result.metrics.maxOverMean).toBe(1);
    expect(result.metrics.sameZoneShare).toBeNull();
  });

  it('round-robin over an ipv4: list spreads calls evenly', async () => {
    const result = await runLoad(
      loadConfig({
        mode: 'round-robin',
        target: echo.ipv4Target,
        rate: 300,
        durationS: 2,
        zone: 'a',
        deadlineMs: 30_000,
      }),
      { logger: silent },
    );
    expect(result.totals.requests).toBe(600);
    expect(result.totals.byCode).toEqual({ OK: 600 });
    expectEvenWithin(result, echo.pods, 0.05);
    expect(result.perZone).toEqual({ a: expect.any(Number), b: expect.any(Number), c: expect.any(Number) });
    expect(result.metrics.maxOverMean).toBeLessThan(1.05);
    expect(result.metrics.sameZoneShare).toBeGreaterThan(0.28);
    expect(result.metrics.sameZoneShare).toBeLessThan(0.39);
    // Every second of the run is in the timeline, each with its share of the calls.
    expect(result.timeline.map((p) => p.t)).toEqual([0, 1]);
    for (const point of result.timeline) expect(point.requests).toBe(300);
  });

  it('gives every channel its own TCP connection, as separate clients have behind a ClusterIP', async () => {
    const relay = await startConnectionCounter(echo.servers[0] as EchoPods['servers'][number]);
    try {
      const result = await runLoad(
        loadConfig({
          mode: 'pick-first',
          target: relay.address,
          channels: 4,
          rate: 100,
          durationS: 0.5,
          deadlineMs: 30_000,
        }),
        { logger: silent },
      );
      expect(result.totals.byCode).toEqual({ OK: 50 });
      expect(relay.connections()).toBe(4);
    } finally {
      await relay.close();
    }
  });
});

describe('skewless mode', () => {
  let backends: Backend[];
  let server: XdsServer;
  let port: number;
  beforeAll(async () => {
    backends = await startZonedBackends(1);
    ({ server, port } = await startControlPlane());
    server.sink.replaceAll([serviceEndpoints(backends)]);
  });
  afterAll(async () => {
    await server.close(100);
    await Promise.all(backends.map((b) => b.close()));
  });

  it('spreads calls evenly over every pod through our client, and reports zones', async () => {
    const result = await runLoad(
      loadConfig({
        mode: 'skewless',
        target: 'skewless:///default/backend:grpc',
        controlPlane: `127.0.0.1:${port}`,
        zone: 'a',
        channels: 2,
        rate: 300,
        durationS: 2,
        // This checks where calls go, not how fast: on a CI machine also booting a cluster, calls
        // queued behind a starved event loop must not fail on the default 2 s deadline.
        deadlineMs: 30_000,
        // No warm-up: waiting for READY must not skew the first second (see wait-ready.ts).
      }),
      { logger: silent },
    );
    expect(result.waitReady.ready).toBe(true);
    expect(result.totals.requests).toBe(600);
    expect(result.totals.byCode).toEqual({ OK: 600 });
    expectEvenWithin(
      result,
      backends.map((b) => b.pod),
      0.1,
    );
    // The first second too: waiting for READY left no phantom load on one endpoint.
    const first = result.timeline[0]?.perPod ?? {};
    for (const b of backends) {
      expect(first[b.pod], JSON.stringify(first)).toBeGreaterThanOrEqual(80);
      expect(first[b.pod], JSON.stringify(first)).toBeLessThanOrEqual(120);
    }
    expect(Object.keys(result.perZone).sort()).toEqual(['a', 'b', 'c']);
    expect(result.zone).toBe('a');
    // Three endpoints are below the zone-routing minimum (6): a third stays in zone a.
    expect(result.metrics.sameZoneShare).toBeGreaterThan(0.23);
    expect(result.metrics.sameZoneShare).toBeLessThan(0.44);
    expect(result.controlPlane?.acks).toBeGreaterThanOrEqual(1);
  });

  it('balances with the strategy it is given: round-robin turns each channel exactly', async () => {
    const result = await runLoad(
      loadConfig({
        mode: 'skewless',
        target: 'skewless:///default/backend:grpc',
        controlPlane: `127.0.0.1:${port}`,
        zone: 'a',
        strategy: 'round-robin',
        channels: 2,
        rate: 300,
        durationS: 2,
        deadlineMs: 30_000,
      }),
      { logger: silent },
    );
    expect(result.totals.byCode).toEqual({ OK: 600 });
    // p2c (the default) lands within a few percent of 200 each; round-robin is exact to a call per channel.
    for (const p of result.perPod)
      expect(Math.abs(p.requests - 200), JSON.stringify(result.perPod)).toBeLessThanOrEqual(2);
  });

  it('refuses a strategy the client library does not know, naming the known ones', async () => {
    await expect(
      runLoad(
        loadConfig({
          mode: 'skewless',
          target: 'skewless:///default/backend:grpc',
          controlPlane: `127.0.0.1:${port}`,
          strategy: 'least-loaded',
          durationS: 1,
        }),
        { logger: silent },
      ),
    ).rejects.toThrow(/strategy.*p2c/s);
  });
});
