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

function tracker(scheduler: FakeScheduler, random = () => 0) {
  const republished: { name: string; atMs: number }[] = [];
  const t = new ClientShareTracker({
    scheduler,
    minIntervalMs: 5_000,
    thresholdShare: 0.05,
    shareOnlyDelayMs: 0,
    random,
    onRepublish: (name) => republished.push({ name, atMs: scheduler.now() }),
  });
  return { t, republished };
}

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

  it('publishes the first shares one interval after the first subscriber, never synchronously', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler);
    t.count(NAME, 'a', 1);
    expect(republished).toEqual([]); // not from inside count(): the caller is a stream handler
    scheduler.advance(4_999);
    expect(republished).toEqual([]);
    scheduler.advance(1);
    expect(republished).toEqual([{ name: NAME, atMs: 5_000 }]);
    expect(t.published(NAME)).toEqual(new Map([['a', 1]]));
  });

  it('spreads first publications over a second interval, so a restart does not push every resource at once', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler, () => 0.5);
    t.count(NAME, 'a', 1);
    scheduler.advance(7_499);
    expect(republished).toEqual([]);
    scheduler.advance(1);
    expect(republished).toEqual([{ name: NAME, atMs: 7_500 }]);
  });

  it('publishes at most once per interval while a fleet connects, and the final state at its end', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler);
    t.count(NAME, 'a', 1);
    scheduler.advance(5_000);
    expect(republished).toHaveLength(1);
    // A fleet connecting: 600 more clients over 3 s cause no publication before the interval ends.
    for (let i = 0; i < 600; i += 1) {
      scheduler.advance(5);
      t.count(NAME, ['a', 'b', 'c'][i % 3] as string, 1);
    }
    expect(republished).toHaveLength(1);
    scheduler.advance(10_000 - scheduler.now() - 1);
    expect(republished).toHaveLength(1);
    scheduler.advance(1);
    expect(republished.map((r) => r.atMs)).toEqual([5_000, 10_000]);
    // 201 / 200 / 200 of 601 clients.
    expect(t.published(NAME)).toEqual(
      new Map([
        ['a', 0.33],
        ['b', 0.33],
        ['c', 0.33],
      ]),
    );
  });

  it('ignores movements below the threshold (hysteresis), however many', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler);
    for (let i = 0; i < 50; i += 1) t.count(NAME, 'a', 1);
    for (let i = 0; i < 50; i += 1) t.count(NAME, 'b', 1);
    scheduler.advance(5_000);
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
    // → 62/50 (a: 0.554): past it, and long after the last publication, so at once.
    for (let i = 0; i < 8; i += 1) t.count(NAME, 'a', 1);
    scheduler.advance(0);
    expect(republished).toHaveLength(2);
    expect(t.published(NAME)).toEqual(
      new Map([
        ['a', 0.55],
        ['b', 0.45],
      ]),
    );
  });

  it('re-evaluates at the end of the interval and publishes nothing if the change undid itself', () => {
    const scheduler = new FakeScheduler();
    const { t, republished } = tracker(scheduler);
    t.count(NAME, 'a', 1);
    t.count(NAME, 'b', 1);
    scheduler.advance(5_000);
    t.count(NAME, 'c', 1); // a zone appears ...
    scheduler.advance(1_000);
    t.count(NAME, 'c', -1); // ... and goes before the interval ends
    scheduler.advance(10_000);
    expect(republished).toHaveLength(1);
  });

  it('withdraws the shares at once when the last subscriber leaves, even with a share-only delay', () => {
    // A fleet shrinking to zone b, then gone: its {b: 1} must not greet the next fleet's zone-a client.
    const scheduler = new FakeScheduler();
    const republished: number[] = [];
    const t = new ClientShareTracker({
      scheduler,
      minIntervalMs: 5_000,
      shareOnlyDelayMs: 30_000,
      random: () => 0,
      onRepublish: () => republished.push(scheduler.now()),
    });
    t.count(NAME, 'b', 1);
    scheduler.advance(5_000);
    expect(t.published(NAME)).toEqual(new Map([['b', 1]]));
    scheduler.advance(1_000);
    t.count(NAME, 'b', -1);
    expect(republished).toEqual([]); // still never from inside count()
    scheduler.advance(0);
    expect(t.published(NAME)).toBeUndefined();
    // The rebuild without shares happens now, not when the share-only push for {b: 1} was due.
    expect(republished).toEqual([6_000]);
    scheduler.advance(60_000);
    expect(republished).toEqual([6_000]);
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

  it('lets decided shares ride along with the next endpoint change, and pushes them alone only after the delay', () => {
    const { scheduler, cache } = sharesCache(30_000);
    const versions: string[] = [];
    cache.watch((change) => versions.push(change.version));
    cache.replaceAll([service()]);
    scheduler.advance(20);
    cache.countSubscribers(NAME, 'zone-a', 1);
    cache.countSubscribers(NAME, 'zone-b', 1);
    scheduler.advance(5_000 + 20);
    // Decided, but not worth a push of its own yet.
    expect(versions).toHaveLength(1);
    expect(
      localityMetadata(decodeCla(cache.get(TYPE_URL.clusterLoadAssignment, NAME)?.any))[0]?.metadata,
    ).toBeUndefined();

    const moved = service();
    cache.replaceAll([{ ...moved, endpoints: [...moved.endpoints, { ...moved.endpoints[0]!, address: '10.0.0.3' }] }]);
    scheduler.advance(20);
    expect(versions).toHaveLength(2);
    const shares = { 'zone-a': 0.5, 'zone-b': 0.5 };
    expect(localityMetadata(decodeCla(cache.get(TYPE_URL.clusterLoadAssignment, NAME)?.any))[0]?.metadata).toEqual({
      clientShare: 0.5,
      clientShares: shares,
    });

    // The deferred share-only push finds the shares already out: same bytes, no new version.
    scheduler.advance(30_000 + 20);
    expect(versions).toHaveLength(2);

    // A later share change with no endpoint change is pushed alone, once the delay has passed.
    cache.countSubscribers(NAME, 'zone-a', 1);
    cache.countSubscribers(NAME, 'zone-a', 1);
    scheduler.advance(5_000 + 20);
    expect(versions).toHaveLength(2);
    scheduler.advance(30_000 + 20);
    expect(versions).toHaveLength(3);
    expect(localityMetadata(decodeCla(cache.get(TYPE_URL.clusterLoadAssignment, NAME)?.any))[0]?.metadata).toEqual({
      clientShare: 0.75,
      clientShares: { 'zone-a': 0.75, 'zone-b': 0.25 },
    });
    cache.close();
  });
});
