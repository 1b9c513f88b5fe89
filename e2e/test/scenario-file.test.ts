/**
 * Scenario files and the numbers made of load results, without a cluster: every file in
 * e2e/scenarios parses; a bad file is refused with every problem and its path; assertions compare
 * against numbers or other metrics and fail on what was not measured; window percentiles add the
 * clients' per-second histograms up exactly; the sums over clients count idle pods as zeros.
 */
import path from 'node:path';
import type { LoadResult } from '@skewless/load';
import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { scenarioDir } from '../src/e2e-run.ts';
import { parseScenarioFile, readScenarioDir, readScenarioFile, ScenarioFileError } from '../src/scenario-file.ts';
import { checkAssertions, evenness, summarize, windowPercentile } from '../src/scenario-metrics.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');

function problemsOf(text: string): readonly string[] {
  try {
    parseScenarioFile(text, 'bad.yaml');
  } catch (error) {
    if (error instanceof ScenarioFileError) return error.problems;
    throw error;
  }
  throw new Error('parsed without a problem');
}

describe('scenario files', () => {
  it('reads the whole suite, in its order, with the quick subset make test runs', () => {
    const suite = readScenarioDir(scenarioDir(repoRoot));
    expect(suite.map((s) => s.name)).toEqual([
      'smoke',
      'skew-baseline',
      'even-distribution',
      'zone-locality',
      'zone-spillover',
      'rolling-restart',
      'rollout-latency',
      'scale-up',
      'slow-pod',
      'envoy-ingress',
      'control-plane-outage',
    ]);
    expect(suite.filter((s) => s.quick).map((s) => s.name)).toEqual([
      'smoke',
      'skew-baseline',
      'even-distribution',
      'zone-locality',
      'rolling-restart',
    ]);
  });

  it('reads the worked examples for skewless reproduce', () => {
    const example = readScenarioFile(path.join(repoRoot, 'examples', 'incident-4x-skew.yaml'));
    expect(example.backends.podsPerZone).toBe(4);
    expect(example.load.map((g) => g.client)).toEqual(['pick-first', 'skewless']);
  });

  it('fills defaults', () => {
    const file = parseScenarioFile(
      `name: tiny
description: one group
load: [{ name: ours, client: skewless, rate: 10, durationS: 1 }]
assert: [{ metric: all.errors, max: 0 }]
`,
      'tiny.yaml',
    );
    expect(file.load[0]).toMatchObject({ clientsPerZone: 1, channels: 1, warmupS: 0, delayMs: 0 });
    expect(file.quick).toBe(false);
    expect(file.cluster.zones).toBe(3);
    expect(file.assert[0]?.factor).toBe(1);
  });

  it('lists every problem with its path, references between parts included', () => {
    const problems = problemsOf(`name: Bad Name
description: x
load:
  - { name: ours, client: skewless, rate: 0, durationS: 5 }
  - { name: ours, client: pick-first, strategy: p2c, rate: 10, durationS: 5 }
event: { type: rollout-restart, afterS: 9 }
assert:
  - { metric: ours.maxOverMean }
  - { metric: theirs.maxOverMean, max: 1.1 }
  - { metric: scale.readyAfterS, max: 10 }
  - { metric: ours.p99Ms, max: rollout.steadyP99Ms, factor: 2 }
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^name: lowercase letters/),
        expect.stringMatching(/^load\.0\.rate: /),
        expect.stringMatching(/^assert\.0: give max, min or both/),
      ]),
    );
    // The cross-checks run once the fields parse; a file fixed field by field shows them next.
    const fixed = problemsOf(`name: bad
description: x
load:
  - { name: ours, client: skewless, rate: 1, durationS: 5 }
  - { name: ours, client: pick-first, strategy: p2c, rate: 10, durationS: 5 }
event: { type: rollout-restart, afterS: 9 }
primary: nobody
assert:
  - { metric: theirs.maxOverMean, max: 1.1 }
  - { metric: scale.readyAfterS, max: 10 }
  - { metric: ours.p99Ms, max: rollout.steadyP99Ms, factor: 2 }
`);
    expect(fixed).toEqual([
      "event.afterS: 9 s is after load[0] ('ours') has ended",
      "load[1].name: 'ours' is used by an earlier group",
      "load[1].strategy: only the skewless client has strategies (pick-first is grpc-js's own)",
      "event.afterS: 9 s is after load[1] ('ours') has ended",
      "primary: 'nobody' is not a load group (ours)",
      "assert[0].metric: 'theirs' is neither a load group (ours) nor one of all, rollout, scale, outage, zoneDown, envoy",
      "assert[1].metric: 'scale.readyAfterS' needs event scale",
    ]);
  });

  it('names a YAML syntax error with its line', () => {
    expect(problemsOf('name: x\nload: [\n')).toEqual([expect.stringMatching(/^not YAML \(line \d+\)/)]);
  });
});

describe('assertions', () => {
  const metrics = { 'ours.maxOverMean': 1.04, 'ours.p99Ms': 9, 'rollout.steadyP99Ms': 4, 'ours.p50Ms': null };

  it('passes and fails against numbers, with the threshold spelled out', () => {
    const [under, over, both] = checkAssertions(
      [
        { metric: 'ours.maxOverMean', max: 1.1, factor: 1 },
        { metric: 'ours.maxOverMean', max: 1.02, factor: 1, why: 'tighter' },
        { metric: 'ours.maxOverMean', min: 1, max: 1.05, factor: 1 },
      ],
      metrics,
    );
    expect(under).toEqual({ name: 'ours.maxOverMean', threshold: '≤ 1.1', value: 1.04, passed: true });
    expect(over).toEqual({ name: 'ours.maxOverMean — tighter', threshold: '≤ 1.02', value: 1.04, passed: false });
    expect(both).toMatchObject({ threshold: '≥ 1 and ≤ 1.05', passed: true });
  });

  it('compares with another metric times a factor', () => {
    const [twice, thrice] = checkAssertions(
      [
        { metric: 'ours.p99Ms', max: 'rollout.steadyP99Ms', factor: 2 },
        { metric: 'ours.p99Ms', max: 'rollout.steadyP99Ms', factor: 3 },
      ],
      metrics,
    );
    expect(twice).toMatchObject({ threshold: '≤ 2 × rollout.steadyP99Ms (4)', value: 9, passed: false });
    expect(thrice?.passed).toBe(true);
  });

  it('fails what was not measured, saying so', () => {
    const [nothing, unknown, unknownBound] = checkAssertions(
      [
        { metric: 'ours.p50Ms', max: 10, factor: 1 },
        { metric: 'ours.typo', max: 10, factor: 1 },
        { metric: 'ours.p99Ms', max: 'ours.typo', factor: 1 },
      ],
      metrics,
    );
    expect(nothing).toMatchObject({ value: 'nothing measured', passed: false });
    expect(unknown).toMatchObject({ value: 'not a metric here', passed: false });
    expect(unknownBound).toMatchObject({ threshold: '≤ ours.typo (not measured)', passed: false });
  });
});

describe('metrics of load results', () => {
  const histogram = (valuesMs: readonly number[]) => {
    const h = build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true });
    for (const v of valuesMs) h.recordValue(v * 1000);
    return encodeIntoCompressedBase64(h);
  };
  const client = (zone: string, seconds: { perPod: Record<string, number>; latencies: number[] }[]): LoadResult =>
    ({
      zone,
      startedAt: new Date(0).toISOString(),
      durationS: seconds.length,
      totals: { requests: 0, ok: 0, errors: 0, byCode: {} },
      perPod: [],
      metrics: { maxOverMean: null, cv: null, sameZoneShare: null },
      timeline: seconds.map((s, t) => ({
        t,
        requests: s.latencies.length,
        errors: 0,
        perPod: s.perPod,
        latencyHdr: histogram(s.latencies),
      })),
    }) as unknown as LoadResult;

  it("adds the clients' per-pod histograms up instead of taking the worst client's percentile", () => {
    const pods = [{ name: 'p1', ip: '', node: 'n', zone: 'a', ready: true }];
    // Client a: 100 calls to p1 at 1 ms; client b: 2 calls at 80 ms. Over the 102 calls p50 is 1 ms
    // and p99 is 80 ms; the worst client alone would say p50 = 80 ms.
    const pod = (requests: number, ms: number) => ({
      pod: 'p1',
      zone: 'a',
      node: 'n',
      requests,
      p50Ms: ms,
      p99Ms: ms,
      latencyHdr: histogram(Array.from({ length: requests }, () => ms)),
    });
    const a = { ...client('a', []), perPod: [pod(100, 1)] } as LoadResult;
    const b = { ...client('a', []), perPod: [pod(2, 80)] } as LoadResult;
    const [p1] = summarize([a, b], pods).perPod;
    expect(p1).toMatchObject({ pod: 'p1', requests: 102 });
    expect(p1?.p50Ms).toBeCloseTo(1, 2);
    expect(p1?.p99Ms).toBeCloseTo(80, 0);
    // Without histograms (k6's per-pod rows): the worst client's value, as before.
    const bare = (r: LoadResult) =>
      ({ ...r, perPod: r.perPod.map(({ latencyHdr: _, ...rest }) => rest) }) as LoadResult;
    expect(summarize([bare(a), bare(b)], pods).perPod[0]).toMatchObject({ p50Ms: 80, p99Ms: 80 });
  });

  it('takes a window percentile over every client and second in it, not an average of percentiles', () => {
    // Second 0: 99 fast calls and 1 slow on one client; second 1: 100 slow calls on another.
    const fast = Array.from({ length: 99 }, () => 1);
    const results = [
      client('a', [
        { perPod: {}, latencies: [...fast, 500] },
        { perPod: {}, latencies: [1] },
      ]),
      client('b', [
        { perPod: {}, latencies: [1] },
        { perPod: {}, latencies: Array.from({ length: 100 }, () => 40) },
      ]),
    ];
    expect(windowPercentile(results, 99, (t) => t < 1)).toBeCloseTo(1, 1);
    expect(windowPercentile(results, 99.5, (t) => t < 1)).toBeCloseTo(500, -1);
    expect(windowPercentile(results, 99, (t) => t === 1)).toBeCloseTo(40, 0);
    // 201 calls over both seconds: the slowest 1% are the 40 ms ones and the 500 ms one.
    expect(windowPercentile(results, 50)).toBeCloseTo(1, 1);
    expect(windowPercentile(results, 99)).toBeCloseTo(40, 0);
    expect(windowPercentile(results, 99, (t) => t >= 5)).toBeNull();
  });

  it('counts pods that answered nothing as zeros in the skew', () => {
    expect(evenness([100, 100, 100])).toEqual({ maxOverMean: 1, cv: 0 });
    expect(evenness([300, 0, 0]).maxOverMean).toBe(3);
    expect(evenness([0, 0]).maxOverMean).toBeNull();
    const pods = ['p1', 'p2', 'p3'].map((name) => ({ name, ip: '', node: 'n', zone: 'a', ready: true }));
    const summary = summarize(
      [
        {
          ...client('a', [{ perPod: { p1: 2 }, latencies: [1, 1] }]),
          perPod: [{ pod: 'p1', zone: 'a', node: 'n', requests: 2, p50Ms: 1, p99Ms: 1 }],
        } as LoadResult,
      ],
      pods,
    );
    expect(summary.metrics.maxOverMean).toBe(3);
    expect(summary.perPod.map((p) => [p.pod, p.requests])).toEqual([
      ['p1', 2],
      ['p2', 0],
      ['p3', 0],
    ]);
    expect(summary.timeline[0]).toMatchObject({ t: 0, perPod: { p1: 2 }, p99Ms: 1 });
    expect(summary.perZone).toEqual({ a: { a: 2 } });
  });
});
