/**
 * The HTML report (issue #5), opened in a real browser (Debian's Chromium through playwright-core):
 * from fixture results — a kube-proxy baseline pinning 3 of 9 pods, an even spread over 9 pods, a rolling
 * restart with a per-pod timeline, a malformed file — the page is self-contained, every chart draws, the
 * numbers the chart instances hold are the fixtures', failed assertions show ✗, the bad file is named
 * with its field paths, and a screenshot lands in results/report.png.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type { GroupValues } from '../src/report/chart-groups.ts';
import type { PodRequestsValues } from '../src/report/chart-pod-requests.ts';
import type { ZoneMatrixValues } from '../src/report/chart-zone-matrix.ts';
import { type RenderedReport, renderReport } from '../src/report/render-report.ts';
import { CHROMIUM_ARGS, screenshotReport } from '../src/report/report-screenshot.ts';
import { scenarioResultSchema } from '../src/report/scenario-result.ts';
import { SCHEMA_FILE, schemaFileText } from '../src/report/write-schema.ts';
import type { ScenarioResult } from '../src/scenario-metrics.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';

type Pod = ScenarioResult['perPod'][number];
type TimelinePoint = ScenarioResult['timeline'][number] & { perPod?: Record<string, number> };

const ZONES = ['zone-a', 'zone-b', 'zone-c'];
/** Nine echo pods, three per zone, already in zone-then-name order (the report's x-axis order). */
const ECHO_PODS = ['k2x9p', 'm4q7t', 'r8w2z', 'b3n6v', 'd7f1h', 'g5j8l', 'c9s4x', 'p2t6y', 'w1v3q'].map(
  (suffix, i) => ({
    pod: `echo-5c8d9f7b6-${suffix}`,
    zone: ZONES[Math.floor(i / 3)]!,
    node: `local-${ZONES[Math.floor(i / 3)]}`,
  }),
);

function pod(base: (typeof ECHO_PODS)[number], requests: number, p50Ms: number | null, p99Ms: number | null): Pod {
  return { ...base, requests, errors: 0, p50Ms, p99Ms };
}

function steadyTimeline(seconds: number, perSecond: number): TimelinePoint[] {
  return Array.from({ length: seconds }, (_, t) => ({ t, requests: perSecond, errors: 0 }));
}

/** grpc-js pick_first through the ClusterIP: each zone's single connection pinned to one pod. */
function fixtureBaseline(): ScenarioResult {
  const pinned = new Set([0, 4, 8]);
  return {
    scenario: 'skew-baseline',
    driver: 'local',
    startedAt: '2026-11-23T20:56:57.622Z',
    durationS: 6.6,
    perPod: ECHO_PODS.map((p, i) => (pinned.has(i) ? pod(p, 400, 5.1 + i / 10, 19 + i) : pod(p, 0, null, null))),
    perZone: { 'zone-a': { 'zone-a': 400 }, 'zone-b': { 'zone-c': 400 }, 'zone-c': { 'zone-b': 400 } },
    totals: { requests: 1200, errors: 0, byCode: { OK: 1200 } },
    metrics: { maxOverMean: 3, cv: Math.SQRT2, sameZoneShare: 0.333 },
    assertions: [
      {
        name: 'pods reached per client (one connection each)',
        threshold: '= 1 for every client',
        value: '1,1,1',
        passed: true,
      },
      { name: 'per-pod max/mean over all echo pods', threshold: '≥ 2', value: 3, passed: true },
      { name: 'failed requests', threshold: '= 0', value: 0, passed: true },
    ],
    timeline: steadyTimeline(4, 300),
  };
}

const EVEN_REQUESTS = [201, 199, 200, 198, 202, 200, 200, 199, 201];

/** Our client spreading 1,800 requests over all nine pods, each zone keeping to itself; one assertion fails. */
function fixtureEven(): ScenarioResult {
  return {
    scenario: 'even-distribution',
    driver: 'local',
    startedAt: '2026-11-23T20:57:10.100Z',
    durationS: 8.1,
    perPod: ECHO_PODS.map((p, i) => pod(p, EVEN_REQUESTS[i]!, 8.5 + i / 4, 55 + 2 * i)),
    perZone: { 'zone-a': { 'zone-a': 600 }, 'zone-b': { 'zone-b': 599, 'zone-a': 1 }, 'zone-c': { 'zone-c': 600 } },
    totals: { requests: 1800, errors: 0, byCode: { OK: 1800 } },
    metrics: { maxOverMean: 1.01, cv: 0.0047, sameZoneShare: 0.999 },
    assertions: [
      { name: 'per-pod max/mean over all echo pods', threshold: '≤ 1.1', value: 1.01, passed: true },
      { name: 'same-zone share', threshold: '≥ 0.95', value: 0.999, passed: true },
      { name: 'p99 latency of the slowest pod (ms)', threshold: '≤ 60', value: 71, passed: false },
    ],
    timeline: steadyTimeline(4, 450),
    // The scenario file ran our client and the kube-proxy baseline side by side.
    details: {
      groups: {
        ours: {
          client: 'skewless',
          perPod: ECHO_PODS.map((p, i) => pod(p, EVEN_REQUESTS[i]!, 8, 50)),
          metrics: { maxOverMean: 1.01 },
        },
        baseline: {
          client: 'pick-first',
          perPod: ECHO_PODS.map((p, i) => pod(p, [1, 5, 7].includes(i) ? 600 : 0, 8, 50)),
          metrics: { maxOverMean: 3 },
        },
      },
    },
  };
}

const ROLLOUT_START_S = 6;
const ROLLOUT_END_S = 30;
const NEW_PODS = ['a1c2e', 'f3h4j', 'k5m6n', 'p7q8r', 's9t0u', 'v1w2x', 'y3z4a', 'b5c6d', 'e7f8g'].map((suffix, i) => ({
  pod: `echo-6f7a8b9c0-${suffix}`,
  zone: ZONES[Math.floor(i / 3)]!,
  node: `local-${ZONES[Math.floor(i / 3)]}`,
}));

/** Old pod i is replaced at 6 + 2.5·i s by new pod i; 270 requests/s spread over whoever serves. */
function fixtureRollingRestart(): ScenarioResult {
  const replacedAt = (i: number) => ROLLOUT_START_S + 2.5 * i;
  const timeline: TimelinePoint[] = Array.from({ length: 40 }, (_, t) => {
    const serving = ECHO_PODS.map((old, i) => (t < replacedAt(i) ? old.pod : NEW_PODS[i]!.pod));
    const perPod = Object.fromEntries(serving.map((name) => [name, 30]));
    return { t, requests: 270, errors: 0, perPod };
  });
  const total = (name: string) => timeline.reduce((sum, p) => sum + (p.perPod?.[name] ?? 0), 0);
  return {
    scenario: 'rolling-restart',
    driver: 'local',
    startedAt: '2026-11-23T20:57:30.000Z',
    durationS: 52.3,
    perPod: [...NEW_PODS, ...ECHO_PODS].map((p) => pod(p, total(p.pod), 9, 80)),
    perZone: { 'zone-a': { 'zone-a': 3600 }, 'zone-b': { 'zone-b': 3600 }, 'zone-c': { 'zone-c': 3600 } },
    totals: { requests: 10800, errors: 0, byCode: { OK: 10800 } },
    metrics: { maxOverMean: 1.5, cv: 0.3, sameZoneShare: 1 },
    assertions: [
      { name: 'failed requests through our client during the rollout', threshold: '= 0', value: 0, passed: true },
      { name: 'new pods that served our clients', threshold: '= 9', value: 9, passed: true },
    ],
    timeline,
    details: { rolloutS: ROLLOUT_END_S - ROLLOUT_START_S, rolloutStartS: ROLLOUT_START_S, rolloutEndS: ROLLOUT_END_S },
  };
}

const E2E_SUMMARY = {
  job: 'e2e',
  cluster: 'local',
  startedAt: '2026-11-23T20:56:30.584Z',
  durationS: 175.9,
  commit: 'd678761',
  timings: { 'etcd + kube-apiserver': 3.3, 'deployments ready': 9.3 },
  passed: false,
  scenarios: [
    { name: 'skew-baseline', passed: true },
    { name: 'even-distribution', passed: false },
    { name: 'rolling-restart', passed: true },
  ],
};

/** A result whose second pod counts requests as a word and which lost its totals. */
function fixtureMalformed(): unknown {
  const bad = fixtureEven() as unknown as Record<string, unknown> & { perPod: Record<string, unknown>[] };
  bad['scenario'] = 'zone-locality';
  bad.perPod[1]!['requests'] = 'many';
  delete bad['totals'];
  return bad;
}

const baseline = fixtureBaseline();
const even = fixtureEven();
const rolling = fixtureRollingRestart();
const CHART_IDS = [
  'pod-requests',
  ...[baseline, even, rolling].flatMap((s) => [
    ...(s === even ? ['groups-even-distribution'] : []),
    `zones-${s.scenario}`,
    `latency-${s.scenario}`,
    `timeline-${s.scenario}`,
  ]),
];

let dir: string;
let report: RenderedReport;
let browser: Browser | undefined;
let page: Page;
const offPageRequests: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's package with \`apt-get install -y chromium\``);
  }
  dir = mkdtempSync(path.join(tmpdir(), 'skewless-report-'));
  const results = path.join(dir, 'results');
  mkdirSync(results);
  const write = (name: string, value: unknown) =>
    writeFileSync(path.join(results, name), `${JSON.stringify(value, null, 2)}\n`);
  write('e2e.json', E2E_SUMMARY);
  write('skew-baseline.json', baseline);
  write('even-distribution.json', even);
  write('rolling-restart.json', rolling);
  write('zone-locality.json', fixtureMalformed());
  report = renderReport({ resultsDir: results, outFile: path.join(dir, 'report.html') });

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('request', (request) => {
    if (!/^(file|data|blob):/.test(request.url())) offPageRequests.push(request.url());
  });
  await page.goto(pathToFileURL(report.outFile).href);
  await page.waitForFunction((n) => (globalThis as unknown as PageWindow).__chartsRendered === n, CHART_IDS.length, {
    timeout: 20_000,
  });
});

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * The few browser globals the page functions below touch (the tsconfig has no DOM lib): the document,
 * ECharts' global and what the report's boot script sets.
 */
interface PageWindow {
  readonly document: {
    querySelector(selector: string): PageElement | null;
    querySelectorAll(selector: string): Iterable<PageElement>;
  };
  readonly echarts: { getInstanceByDom(el: PageElement): { getOption(): ChartOption } };
  readonly __chartsRendered?: number;
  readonly __chartErrors: string[];
}
interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  querySelector(selector: 'canvas'): PageCanvas | null;
}
interface PageCanvas {
  readonly width: number;
  readonly height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
interface ChartOption {
  title: { text: string }[];
  series: { name: string; data: unknown[]; markLine?: { data: unknown[] } }[];
}

/** The option of the ECharts instance drawn in `[data-chart=id]`, as the chart holds it. */
async function optionOf(id: string): Promise<ChartOption> {
  return page.evaluate((chartId) => {
    const w = globalThis as unknown as PageWindow;
    const el = w.document.querySelector(`[data-chart="${chartId}"]`);
    if (!el) throw new Error(`no [data-chart="${chartId}"] on the page`);
    const { title, series } = w.echarts.getInstanceByDom(el).getOption();
    return JSON.parse(JSON.stringify({ title, series })) as ChartOption;
  }, id);
}

async function seriesOf(id: string): Promise<ChartOption['series']> {
  return (await optionOf(id)).series;
}

async function titleOf(id: string): Promise<string> {
  return (await optionOf(id)).title[0]?.text ?? '';
}

/** The container's `data-values`: the numbers the report says it plotted. */
async function valuesOf<T>(id: string): Promise<T> {
  return JSON.parse((await page.getAttribute(`[data-chart="${id}"]`, 'data-values')) ?? 'null') as T;
}

describe('the HTML report', () => {
  it('is one self-contained page: the charting library inlined, nothing fetched from the network', () => {
    const html = readFileSync(report.outFile, 'utf8');
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    expect(html).not.toMatch(/<link[^>]*\shref=["']?https?:/i);
    expect(html).toContain('echarts.init(');
    expect(html.length).toBeGreaterThan(500_000);
    expect(offPageRequests).toEqual([]);
  });

  it('draws every chart, each on a canvas of non-zero size with something painted on it', async () => {
    expect(report.charts).toEqual(CHART_IDS);
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).__chartErrors)).toEqual([]);
    const drawn = await page.evaluate(() =>
      [...(globalThis as unknown as PageWindow).document.querySelectorAll('[data-chart]')].map((el) => {
        const canvas = el.querySelector('canvas');
        if (!canvas) return { id: el.dataset['chart'], width: 0, height: 0, painted: 0 };
        const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted++;
        return { id: el.dataset['chart'], width: canvas.width, height: canvas.height, painted };
      }),
    );
    expect(drawn.map((d) => d.id)).toEqual(CHART_IDS);
    for (const chart of drawn) {
      expect(chart.width, chart.id).toBeGreaterThan(100);
      expect(chart.height, chart.id).toBeGreaterThan(100);
      expect(chart.painted, chart.id).toBeGreaterThan(1000);
    }
  });

  it('plots requests per pod with the kube-proxy baseline beside ours, max/mean in the title', async () => {
    const series = await seriesOf('pod-requests');
    expect(series.map((s) => s.name)).toEqual(['skew-baseline', 'even-distribution']);
    expect(series[0]!.data).toEqual(baseline.perPod.map((p) => p.requests));
    expect(series[0]!.data.filter((n) => n === 400)).toHaveLength(3);
    expect(series[0]!.data.filter((n) => n === 0)).toHaveLength(6);
    expect(series[1]!.data).toEqual(EVEN_REQUESTS);
    expect(await titleOf('pod-requests')).toContain('max/mean: skew-baseline 3 · even-distribution 1.01');
    const values = await valuesOf<PodRequestsValues>('pod-requests');
    expect(values.pods).toEqual(ECHO_PODS.map((p) => p.pod));
    expect(values.series.map((s) => s.requests)).toEqual([series[0]!.data, series[1]!.data]);
  });

  it('puts a scenario’s load groups side by side, each group’s max/mean in its name', async () => {
    const series = await seriesOf('groups-even-distribution');
    expect(series.map((s) => s.name)).toEqual(['ours (skewless) max/mean 1.01', 'baseline (pick-first) max/mean 3']);
    expect(series[0]!.data).toEqual(EVEN_REQUESTS);
    expect(series[1]!.data).toEqual([0, 600, 0, 0, 0, 600, 0, 600, 0]);
    expect(await valuesOf<GroupValues>('groups-even-distribution')).toMatchObject({
      pods: ECHO_PODS.map((p) => p.pod),
      series: [
        { group: 'ours', maxOverMean: 1.01 },
        { group: 'baseline', maxOverMean: 3 },
      ],
    });
  });

  it('draws each scenario’s zone matrix as a heat map, a missing cell counted as zero', async () => {
    for (const scenario of [baseline, even, rolling]) {
      const [heat] = await seriesOf(`zones-${scenario.scenario}`);
      const matrix = ZONES.map(() => ZONES.map(() => -1));
      for (const [x, y, n] of heat!.data as [number, number, number][]) matrix[y]![x] = n;
      expect(matrix, scenario.scenario).toEqual(
        ZONES.map((from) => ZONES.map((to) => scenario.perZone[from]?.[to] ?? 0)),
      );
      expect((await valuesOf<ZoneMatrixValues>(`zones-${scenario.scenario}`)).rows).toEqual(matrix);
    }
  });

  it('plots per-pod requests/s through the rollout, with its start and end marked', async () => {
    const series = await seriesOf('timeline-rolling-restart');
    const pods = [...ECHO_PODS, ...NEW_PODS].map((p) => p.pod);
    expect(series.map((s) => s.name).sort()).toEqual([...pods, 'errors/s'].sort());
    for (const s of series.filter((s) => s.name !== 'errors/s')) {
      expect(s.data, s.name).toEqual(rolling.timeline.map((p: TimelinePoint) => [p.t, p.perPod?.[s.name] ?? 0]));
    }
    const marks = series[0]!.markLine!.data as { name: string; xAxis: number }[];
    expect(marks.map((m) => [m.name, m.xAxis])).toEqual([
      ['rollout start', ROLLOUT_START_S],
      ['rollout done', ROLLOUT_END_S],
    ]);
  });

  it('plots total and failed requests/s where the results keep no per-pod timeline', async () => {
    const series = await seriesOf('timeline-skew-baseline');
    expect(series.map((s) => [s.name, s.data])).toEqual([
      ['requests/s', baseline.timeline.map((p) => [p.t, p.requests])],
      ['errors/s', baseline.timeline.map((p) => [p.t, p.errors])],
    ]);
    expect(series[0]!.markLine).toBeUndefined();
  });

  it('plots p50 and p99 latency per pod, no bar for a pod that answered nothing', async () => {
    for (const scenario of [baseline, even]) {
      const series = await seriesOf(`latency-${scenario.scenario}`);
      expect(series.map((s) => [s.name, s.data])).toEqual([
        ['p50', scenario.perPod.map((p) => p.p50Ms)],
        ['p99', scenario.perPod.map((p) => p.p99Ms)],
      ]);
    }
  });

  it('lists every assertion with its threshold and value, a failed one marked ✗', async () => {
    const rows = await page.$$eval('table.assertions tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    const expected = [baseline, even, rolling].flatMap((s) =>
      s.assertions.map((a) => [s.scenario, a.name, a.threshold, String(a.value), a.passed ? '✓' : '✗']),
    );
    expect(rows).toEqual(expected);
    expect(rows.filter((r) => r[4] === '✗')).toEqual([
      ['even-distribution', 'p99 latency of the slowest pod (ms)', '≤ 60', '71', '✗'],
    ]);
  });

  it('leaves a malformed file out, naming the file and each bad field’s path, and renders the rest', async () => {
    const file = path.join(dir, 'results', 'zone-locality.json');
    expect(report.problems).toEqual([
      expect.stringMatching(new RegExp(`^${escapeRegExp(file)}: perPod\\[1\\]\\.requests: .*expected number`)),
      expect.stringMatching(new RegExp(`^${escapeRegExp(file)}: totals: `)),
    ]);
    expect(report.scenarios).toEqual(['skew-baseline', 'even-distribution', 'rolling-restart']);
    const listed = await page.$$eval('.problems li', (lis) => lis.map((li) => li.textContent));
    expect(listed).toEqual(report.problems);
  });

  it('marks a scenario whose results file predates e2e.json as from an earlier run', async () => {
    expect(await page.$$eval('.stale', (els) => els.length)).toBe(0);
    const results = path.join(dir, 'stale');
    mkdirSync(results);
    writeFileSync(
      path.join(results, 'e2e.json'),
      JSON.stringify({ ...E2E_SUMMARY, startedAt: '2026-11-23T21:30:00.000Z' }),
    );
    writeFileSync(path.join(results, 'skew-baseline.json'), JSON.stringify(baseline));
    const stale = renderReport({ resultsDir: results, outFile: path.join(results, 'report.html') });
    expect(stale.problems).toEqual([]);
    expect(readFileSync(stale.outFile, 'utf8')).toMatch(
      /<section data-scenario="skew-baseline">[\s\S]*?<span class="stale">from an earlier run than e2e.json<\/span>/,
    );
  });

  it('saves a screenshot of the whole page to results/report.png', async () => {
    const shots = [path.join(dir, 'report.png'), path.join(repoRoot, 'results', 'report.png')];
    mkdirSync(path.dirname(shots[1]!), { recursive: true });
    const png = await page.screenshot({ fullPage: true });
    for (const shot of shots) writeFileSync(shot, png);
    for (const shot of shots) expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(50_000);
  });

  it('is screenshotted the way make e2e does it, once every chart has rendered', async () => {
    const shot = path.join(dir, 'e2e-report.png');
    const outcome = await screenshotReport(report.outFile, shot, CHART_IDS.length, { executablePath: CHROMIUM });
    expect(outcome).toEqual({ ok: true, bytes: readFileSync(shot).length });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    // Waiting for one chart more than the page has times out, and says so instead of saving a picture.
    const early = await screenshotReport(report.outFile, path.join(dir, 'never.png'), CHART_IDS.length + 1, {
      executablePath: CHROMIUM,
      timeoutMs: 3_000,
    });
    expect(early).toEqual({ ok: false, reason: expect.stringMatching(/Timeout/) });
  }, 60_000);

  it('skips the screenshot without a browser, naming where it looked', async () => {
    const outcome = await screenshotReport(report.outFile, path.join(dir, 'none.png'), 1, { executablePath: null });
    expect(outcome).toEqual({
      ok: false,
      reason: expect.stringMatching(/no Chromium at \/usr\/bin\/chromium.*scripts\/tools\.sh browser/),
    });
  });
});

describe('make report (node e2e/src/report/main.ts)', () => {
  it('prints the page’s path and a one-line summary, exiting 1 while a results file is malformed', () => {
    const out = path.join(dir, 'cli', 'report.html');
    const run = spawnSync(
      process.execPath,
      ['e2e/src/report/main.ts', '--results', path.join(dir, 'results'), '--out', out],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    expect(run.stdout.split('\n')[0]).toBe(out);
    expect(run.stdout).toMatch(
      /report: 3 scenarios \(skew-baseline, even-distribution, rolling-restart\), 11 charts, 2 problems/,
    );
    expect(run.stderr).toContain('zone-locality.json: perPod[1].requests');
    expect(run.status).toBe(1);
    expect(existsSync(out)).toBe(true);
  });
});

describe('the scenario result schema', () => {
  it('accepts the type the cluster scenarios write', () => {
    // `details` is `unknown` in the TypeScript type; the schema wants an object (what every scenario writes).
    expectTypeOf<Omit<ScenarioResult, 'details'>>().toExtend<Omit<z.input<typeof scenarioResultSchema>, 'details'>>();
    for (const fixture of [baseline, even, rolling]) expect(scenarioResultSchema.safeParse(fixture).success).toBe(true);
  });

  it('is committed as the JSON Schema generated from the zod schema (node e2e/src/report/write-schema.ts)', () => {
    const committed = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));
    expect(committed.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(committed).toEqual(JSON.parse(schemaFileText()));
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
