/**
 * The fleet's per-zone shares: hysteresis, the per-resource rate limit (fake scheduler, no real
 * time), quantization, and what the cache publishes in each locality's metadata.
 */
import {
  type Any,
  type ClusterLoadAssignment__Output,
  decodeMessage,
  FILTER_METADATA_KEY,
  fromProtoStruct,
  TYPE_URL,
} from '@skewless/shared';
import { describe, expect, it } from 'vitest';
import type { ServicePortEndpoints } from '../src/model.ts';
import { XdsCache } from '../src/xds-cache.ts';
import { ClientShareTracker, quantizedShares, sharesMoved } from '../src/xds-client-shares.ts';
import { captureLogger } from './support/capture-logger.ts';
import { FakeScheduler } from './support/fake-scheduler.ts';

const NAME = 'default/backend:grpc';

/** A tracker pushing every decision at once (no ride-along delay), recording what it pushed and when. */
function tracker(scheduler: FakeScheduler, random = () => 0) {
  const republished: { name: string; atMs: number }[] = [];
  const t = new ClientShareTracker({
    scheduler,
    settleMs: 2_000,
    maxSettleMs: 10_000,
    minIntervalMs: 5_000,
    thresholdShare: 0.05,
    shareOnlyDelayMs: 0,
    random,
    onRepublish: (name) => republished.push({ name, atMs: scheduler.now() }),
  });
  return { t, republished };
}

/** A tracker with the default ride-along delay: records each share-only push with the shares it carries. */
function deferringTracker(scheduler: FakeScheduler, random = () => 0) {
  const pushes: { atMs: number; shares: Record<string, number> | undefined }[] = [];
  const t: ClientShareTracker = new ClientShareTracker({
    scheduler,
    random,
    onRepublish: (name) => {
      const shares = t.published(name);
      pushes.push({ atMs: scheduler.now(), shares: shares && Object.fromEntries(shares) });
    },
  });
  return { t, pushes };
}

const THIRDS = { a: 0.33, b: 0.33, c: 0.33 };

describe('client shares', () => {
  it('quantizes to 0.01 and reports movement only past the threshold or when a zone comes or goes', () => {
    expect(
      quantizedShares(
        new Map([
          ['a', 2],
          ['b', 1],
        ]),
      ),
    ).toEqual(
      new Map([
        ['a', 0.67],
        ['b', 0.33],
      ]),
    );
    const published = new Map([
      ['a', 0.5],
      ['b', 0.5],
    ]);
    expect(
      sharesMoved(
        published,
        new Map([
          ['a', 0.54],
          ['b', 0.46],
        ]),
        0.05,
      ),
    ).toBe(false);
    expect(
      sharesMoved(
        published,
        new Map([
          ['a', 0.55],
          ['b', 0.45],
        ]),
        0.05,
      ),
    ).toBe(true);
    expect(sharesMoved(published, new Map([['a', 1]]), 0.05)).toBe(true);
    expect(
      sharesMoved(
        published,
        new Map([
          ['a', 0.5],
          ['c', 0.5],
        ]),
        0.05,
      ),
    ).toBe(true);
    expect(sharesMoved(undefined, new Map(), 0.05)).toBe(false);
  });

  it('decides the first shares once the subscribers have settled for the settle time, never synchronously', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler);
    t.count(NAME, 'a', 1);
    expect(republished).toEqual([]); // not from inside count(): the caller is a stream handler
    scheduler.advance(1_999);
    expect(republished).toEqual([]);
    expect(t.published(NAME)).toBeUndefined();
    scheduler.advance(1);
    expect(republished).toEqual([{ name: NAME, atMs: 2_000 }]);
    expect(t.published(NAME)).toEqual(new Map([['a', 1]]));
  });

  it('publishes a fleet of 3 zones joining within 1 s whole, soon, and never a partial share set', () => {
    // The zone-spillover case: one client per zone, started within a second; first shares {a: 1} would
    // make the zone-a client keep 16% of its calls local where Envoy's formula says 43%.
    for (const random of [() => 0, () => 0.999]) {
      const scheduler = new FakeScheduler();
      const { t, pushes } = deferringTracker(scheduler, random);
      const seen: (Record<string, number> | undefined)[] = [];
      const watch = () => {
        const shares = t.published(NAME);
        seen.push(shares && Object.fromEntries(shares));
      };
      t.count(NAME, 'a', 1);
      for (const [atMs, zone] of [
        [400, 'b'],
        [1_000, 'c'],
      ] as const) {
        while (scheduler.now() < atMs) {
          scheduler.advance(50);
          watch();
        }
        t.count(NAME, zone, 1);
      }
      while (scheduler.now() < 60_000) {
        scheduler.advance(50);
        watch();
      }
      const decided = seen.filter((s) => s !== undefined);
      expect(decided.length).toBeGreaterThan(0);
      for (const shares of decided) expect(shares).toEqual(THIRDS);
      // Pushed on its own within two settle times of the last join, not 30–60 s later.
      expect(pushes).toHaveLength(1);
      expect(pushes[0]?.shares).toEqual(THIRDS);
      expect(pushes[0]?.atMs).toBeLessThanOrEqual(1_000 + 2 * 2_000);
    }
  });

  it('does not publish the first subscriber of a new fleet alone after an earlier fleet left unpublished', () => {
    // A short scenario's clients came and went before any shares were decided; the next scenario's
    // fleet must still be decided whole, not from its first subscriber.
    const scheduler = new FakeScheduler();
    const { t, pushes } = deferringTracker(scheduler);
    t.count(NAME, 'b', 1);
    scheduler.advance(500);
    t.count(NAME, 'b', -1);
    scheduler.advance(20_000);
    expect(pushes).toEqual([]);
    t.count(NAME, 'a', 1);
    scheduler.advance(300);
    expect(t.published(NAME)).toBeUndefined();
    t.count(NAME, 'b', 1);
    scheduler.advance(300);
    t.count(NAME, 'c', 1);
    scheduler.advance(1_999);
    expect(t.published(NAME)).toBeUndefined();
    scheduler.advance(1);
    expect(t.published(NAME)).toEqual(new Map(Object.entries(THIRDS)));
    expect(pushes).toEqual([{ atMs: 23_100, shares: THIRDS }]);
  });

  it("pushes a zone's clients leaving within two settle times, long after the fleet's first shares", () => {
    const scheduler = new FakeScheduler();
    const { t, pushes } = deferringTracker(scheduler, () => 0.999);
    for (const zone of ['a', 'a', 'b', 'b', 'c', 'c']) t.count(NAME, zone, 1);
    scheduler.advance(120_000);
    expect(pushes.map((p) => p.shares)).toEqual([THIRDS]);
    t.count(NAME, 'c', -1);
    t.count(NAME, 'c', -1);
    const leftAtMs = scheduler.now();
    scheduler.advance(2 * 2_000);
    expect(pushes.map((p) => p.shares)).toEqual([THIRDS, { a: 0.5, b: 0.5 }]);
    expect((pushes[1]?.atMs ?? Number.POSITIVE_INFINITY) - leftAtMs).toBeLessThanOrEqual(4_000);
  });

  it("pushes a young fleet's correction soon: a late joiner within the ride-along delay of the first shares", () => {
    const scheduler = new FakeScheduler();
    const { t, pushes } = deferringTracker(scheduler, () => 0.999);
    for (const zone of ['a', 'b', 'c']) t.count(NAME, zone, 1);
    scheduler.advance(4_000);
    expect(pushes.map((p) => p.shares)).toEqual([THIRDS]);
    // Same zones, shares moved past the hysteresis: a drift, but of shares still young.
    t.count(NAME, 'a', 1);
    scheduler.advance(5_000 + 2 * 2_000);
    expect(pushes.map((p) => p.shares)).toEqual([THIRDS, { a: 0.5, b: 0.25, c: 0.25 }]);
  });

  it("keeps an established fleet's drift to one share-only push per ride-along delay", () => {
    // A client rollout: 300 clients, one restarting somewhere every 2.5 s, shares drifting between
    // 0.30 and 0.40 per zone. Each push goes to every subscriber of the resource.
    const scheduler = new FakeScheduler();
    const { t, pushes } = deferringTracker(scheduler, () => 0.5);
    for (let i = 0; i < 300; i += 1) t.count(NAME, ['a', 'b', 'c'][i % 3] as string, 1);
    scheduler.advance(60_000);
    expect(pushes).toHaveLength(1);
    const zones = ['a', 'b', 'c'];
    for (let step = 0; step < 240; step += 1) {
      // Zone a gains 30 clients from b, then gives them back, in steps of one.
      const phase = Math.floor(step / 30) % 2;
      t.count(NAME, phase === 0 ? 'a' : 'b', 1);
      t.count(NAME, phase === 0 ? 'b' : 'a', -1);
      scheduler.advance(2_500);
      expect(zones.every((z) => (t.published(NAME)?.get(z) ?? 0) > 0)).toBe(true);
    }
    const during = pushes.slice(1);
    expect(during.length).toBeGreaterThan(0);
    // 600 s of drift: at most one share-only push per 45 s (30 s × 1.5 here).
    expect(during.length).toBeLessThanOrEqual(Math.ceil(600_000 / 45_000));
    for (let i = 1; i < during.length; i += 1) {
      expect((during[i]?.atMs ?? 0) - (during[i - 1]?.atMs ?? 0)).toBeGreaterThanOrEqual(45_000);
    }
  });

  it('decides a fleet that never settles at the latest the longest settle time after its first change', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler);
    for (let i = 0; i < 40; i += 1) {
      t.count(NAME, ['a', 'b'][i % 2] as string, 1);
      scheduler.advance(500);
    }
    expect(republished.map((r) => r.atMs)).toEqual([10_000]);
  });

  it('decides at most once per interval while a fleet keeps changing, and the final state at the end', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler);
    t.count(NAME, 'a', 1);
    scheduler.advance(2_000);
    expect(republished).toHaveLength(1);
    // A fleet connecting: 600 more clients over 3 s cause no decision before the interval ends.
    for (let i = 0; i < 600; i += 1) {
      scheduler.advance(5);
      t.count(NAME, ['a', 'b', 'c'][i % 3] as string, 1);
    }
    expect(republished).toHaveLength(1);
    // Settled at 5 000 + 2 000.
    scheduler.advance(7_000 - scheduler.now() - 1);
    expect(republished).toHaveLength(1);
    scheduler.advance(1);
    expect(republished.map((r) => r.atMs)).toEqual([2_000, 7_000]);
    // 201 / 200 / 200 of 601 clients.
    expect(t.published(NAME)).toEqual(new Map(Object.entries(THIRDS)));
  });

  it('ignores movements below the threshold (hysteresis), however many', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler);
    for (let i = 0; i < 50; i += 1) t.count(NAME, 'a', 1);
    for (let i = 0; i < 50; i += 1) t.count(NAME, 'b', 1);
    scheduler.advance(2_000);
    expect(t.published(NAME)).toEqual(
      new Map([
        ['a', 0.5],
        ['b', 0.5],
      ]),
    );
    // 50/50 → 54/50 (a: 0.519): under 0.05, nothing even after the interval.
    for (let i = 0; i < 4; i += 1) t.count(NAME, 'a', 1);
    scheduler.advance(60_000);
    expect(republished).toHaveLength(1);
    // → 62/50 (a: 0.554): past it, and long after the last decision, so once settled.
    for (let i = 0; i < 8; i += 1) t.count(NAME, 'a', 1);
    scheduler.advance(2_000);
    expect(republished).toHaveLength(2);
    expect(t.published(NAME)).toEqual(
      new Map([
        ['a', 0.55],
        ['b', 0.45],
      ]),
    );
  });

  it('publishes nothing if a change undid itself before it settled', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler);
    t.count(NAME, 'a', 1);
    t.count(NAME, 'b', 1);
    scheduler.advance(5_000);
    t.count(NAME, 'c', 1); // a zone appears ...
    scheduler.advance(1_000);
    t.count(NAME, 'c', -1); // ... and goes before it settled
    scheduler.advance(10_000);
    expect(republished).toHaveLength(1);
  });

  it('withdraws the shares at once when the last subscriber leaves, even with a share-only delay', () => {
    // A fleet shrinking to zone b, then gone: its {b: 1} must not greet the next fleet's zone-a client.
    const scheduler = new FakeScheduler();
    const republished: number[] = [];
    const t = new ClientShareTracker({
      scheduler,
      settleMs: 2_000,
      minIntervalMs: 5_000,
      shareOnlyDelayMs: 30_000,
      random: () => 0,
      onRepublish: () => republished.push(scheduler.now()),
    });
    t.count(NAME, 'b', 1);
    scheduler.advance(5_000);
    expect(t.published(NAME)).toEqual(new Map([['b', 1]]));
    expect(republished).toEqual([2_000]);
    scheduler.advance(1_000);
    t.count(NAME, 'b', -1);
    expect(republished).toEqual([2_000]); // still never from inside count()
    scheduler.advance(0);
    expect(t.published(NAME)).toBeUndefined();
    expect(republished).toEqual([2_000, 6_000]);
    scheduler.advance(60_000);
    expect(republished).toEqual([2_000, 6_000]);
    t.count(NAME, 'a', 1);
    expect(t.published(NAME)).toBeUndefined();
  });

  it('publishes the removal when the last subscriber leaves, then forgets the resource', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler);
    t.count(NAME, 'a', 1);
    scheduler.advance(5_000);
    t.count(NAME, 'a', -1);
    scheduler.advance(5_000);
    expect(republished).toHaveLength(2);
    expect(t.published(NAME)).toBeUndefined();
    expect(scheduler.pending()).toBe(0);
  });
});

function service(): ServicePortEndpoints {
  return {
    key: { namespace: 'default', service: 'backend', port: 'grpc' },
    name: NAME,
    servicePort: 50051,
    endpoints: [
      { address: '10.0.0.1', port: 8080, health: 'HEALTHY', zone: 'zone-a', weight: 1 },
      { address: '10.0.0.2', port: 8080, health: 'HEALTHY', zone: 'zone-b', weight: 1 },
    ],
  };
}

function decodeCla(any: Any | undefined): ClusterLoadAssignment__Output {
  return decodeMessage<ClusterLoadAssignment__Output>(TYPE_URL.clusterLoadAssignment, (any as { value: Buffer }).value);
}

function localityMetadata(cla: ClusterLoadAssignment__Output) {
  return cla.endpoints.map((l) => ({
    zone: l.locality?.zone,
    priority: l.priority,
    metadata: l.metadata ? fromProtoStruct(l.metadata.filter_metadata[FILTER_METADATA_KEY]) : undefined,
  }));
}

/** A cache on a fake clock whose first shares are decided one interval after the first subscriber. */
function sharesCache(shareOnlyDelayMs: number) {
  const scheduler = new FakeScheduler();
  const cache = new XdsCache({
    logger: captureLogger().logger,
    batchWindowMs: 20,
    versionPrefix: 'p',
    scheduler,
    clientShares: { random: () => 0, shareOnlyDelayMs },
  });
  return { scheduler, cache };
}

describe('XdsCache with client shares', () => {
  it('puts clientShare and the whole clientShares map on every locality, in every zone variant, with a new version', () => {
    const { scheduler, cache } = sharesCache(0);
    cache.replaceAll([service()]);
    scheduler.advance(20);
    const before = cache.get(TYPE_URL.clusterLoadAssignment, NAME);
    expect(localityMetadata(decodeCla(before?.any)).map((l) => l.metadata)).toEqual([undefined, undefined]);

    cache.countSubscribers(NAME, 'zone-a', 1);
    cache.countSubscribers(NAME, 'zone-a', 1);
    cache.countSubscribers(NAME, 'zone-c', 1); // clients in a zone without endpoints count too
    scheduler.advance(5_000 + 20); // one rate-limit interval, then the batching window
    const after = cache.get(TYPE_URL.clusterLoadAssignment, NAME);
    expect(after?.version).not.toBe(before?.version);
    const shares = { 'zone-a': 0.67, 'zone-c': 0.33 };
    expect(localityMetadata(decodeCla(after?.any))).toEqual([
      { zone: 'zone-a', priority: 0, metadata: { clientShare: 0.67, clientShares: shares } },
      { zone: 'zone-b', priority: 0, metadata: { clientShare: 0, clientShares: shares } },
    ]);
    const variant = cache.get(TYPE_URL.clusterLoadAssignment, NAME, { callerZone: 'zone-b' });
    expect(localityMetadata(decodeCla(variant?.any))).toEqual([
      { zone: 'zone-b', priority: 0, metadata: { clientShare: 0, clientShares: shares } },
      { zone: 'zone-a', priority: 1, metadata: { clientShare: 0.67, clientShares: shares } },
    ]);
    cache.close();
  });

  it("pushes a connecting fleet's first shares on their own, once, with every zone in them", () => {
    const { scheduler, cache } = sharesCache(30_000);
    const pushed: { atMs: number; shares: unknown }[] = [];
    cache.watch(() => {
      const metadata = localityMetadata(decodeCla(cache.get(TYPE_URL.clusterLoadAssignment, NAME)?.any))[0]?.metadata;
      pushed.push({ atMs: scheduler.now(), shares: metadata?.clientShares });
    });
    cache.replaceAll([service()]);
    scheduler.advance(20);
    cache.countSubscribers(NAME, 'zone-a', 1);
    scheduler.advance(600);
    cache.countSubscribers(NAME, 'zone-b', 1);
    scheduler.advance(400);
    cache.countSubscribers(NAME, 'zone-c', 1);
    scheduler.advance(60_000);
    const thirds = { 'zone-a': 0.33, 'zone-b': 0.33, 'zone-c': 0.33 };
    expect(pushed).toEqual([
      { atMs: 20, shares: undefined },
      // Settled 2 s after the last join, pushed at once (random 0), then the batching window.
      { atMs: 1_020 + 2_000 + 20, shares: thirds },
    ]);
    cache.close();
  });

  it("lets an established fleet's drift ride along with the next endpoint change, and pushes it alone only after the delay", () => {
    const { scheduler, cache } = sharesCache(30_000);
    const versions: string[] = [];
    cache.watch((change) => versions.push(change.version));
    cache.replaceAll([service()]);
    scheduler.advance(20);
    cache.countSubscribers(NAME, 'zone-a', 1);
    cache.countSubscribers(NAME, 'zone-b', 1);
    scheduler.advance(60_000);
    expect(versions).toHaveLength(2); // the endpoints, then the first shares
    const claMetadata = () =>
      localityMetadata(decodeCla(cache.get(TYPE_URL.clusterLoadAssignment, NAME)?.any))[0]?.metadata;
    expect(claMetadata()).toEqual({ clientShare: 0.5, clientShares: { 'zone-a': 0.5, 'zone-b': 0.5 } });

    // A drift of the established fleet: decided, but not worth a push of its own yet.
    cache.countSubscribers(NAME, 'zone-a', 1);
    cache.countSubscribers(NAME, 'zone-a', 1);
    scheduler.advance(2_000 + 20);
    expect(versions).toHaveLength(2);
    expect(claMetadata()).toEqual({ clientShare: 0.5, clientShares: { 'zone-a': 0.5, 'zone-b': 0.5 } });

    const moved = service();
    cache.replaceAll([{ ...moved, endpoints: [...moved.endpoints, { ...moved.endpoints[0]!, address: '10.0.0.3' }] }]);
    scheduler.advance(20);
    expect(versions).toHaveLength(3);
    const drifted = { clientShare: 0.75, clientShares: { 'zone-a': 0.75, 'zone-b': 0.25 } };
    expect(claMetadata()).toEqual(drifted);

    // The deferred share-only push finds the shares already out: same bytes, no new version.
    scheduler.advance(30_000 + 20);
    expect(versions).toHaveLength(3);

    // A later drift with no endpoint change is pushed alone, once the delay has passed.
    cache.countSubscribers(NAME, 'zone-b', 1);
    cache.countSubscribers(NAME, 'zone-b', 1);
    scheduler.advance(2_000 + 20);
    expect(versions).toHaveLength(3);
    scheduler.advance(30_000 + 20);
    expect(versions).toHaveLength(4);
    expect(claMetadata()).toEqual({ clientShare: 0.5, clientShares: { 'zone-a': 0.5, 'zone-b': 0.5 } });
    cache.close();
  });
});
