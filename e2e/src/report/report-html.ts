/**
 * The report as one self-contained HTML page: the charting library is inlined (no network, works from
 * file://), chart options ride along as JSON data, and a small boot script draws every chart, then sets
 * `window.__chartsRendered` to the number of charts once each has fired ECharts' 'finished' event.
 */
import type { ChartSpec } from './chart-spec.ts';
import type { E2eSummary, ReportedScenario } from './scenario-result.ts';

export interface ReportPage {
  readonly header: E2eSummary | undefined;
  readonly scenarios: readonly ReportedScenario[];
  readonly charts: readonly ChartSpec[];
  readonly problems: readonly string[];
  /** The charting library's minified source, inlined into the page. */
  readonly echartsJs: string;
  readonly generatedAt: Date;
}

export function reportHtml(page: ReportPage): string {
  // A static page: no animation, so 'finished' and screenshots show the final picture.
  const options = page.charts.map((c) => [c.id, { ...c.option, animation: false }]);
  const comparison = page.charts.filter((c) => c.scenario === undefined);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Skewless e2e report</title>
<style>${STYLE}</style>
</head>
<body>
${headerHtml(page)}
${problemsHtml(page.problems)}
${assertionsHtml(page.scenarios, page.header)}
${comparison.length > 0 ? `<section><h2>Load per pod: kube-proxy baseline beside ours</h2><div class="charts">${comparison.map(figureHtml).join('')}</div></section>` : ''}
${page.scenarios.map((s) => scenarioHtml(s, page.charts, page.header)).join('\n')}
<script>${page.echartsJs.replace(/<\/script/gi, '<\\/script')}</script>
<script type="application/json" id="chart-options">${scriptJson(options)}</script>
<script>${BOOT}</script>
</body>
</html>
`;
}

function headerHtml(page: ReportPage): string {
  const h = page.header;
  const failed = page.scenarios.flatMap((s) => s.assertions).filter((a) => !a.passed).length;
  const total = page.scenarios.reduce((n, s) => n + s.assertions.length, 0);
  const facts = [
    h?.commit ? `commit <code>${esc(h.commit)}</code>` : undefined,
    h?.cluster ? `cluster ${esc(h.cluster)}` : undefined,
    h ? `started ${esc(h.startedAt)}` : undefined,
    h ? `${h.durationS} s` : undefined,
    `${page.scenarios.length} scenario${page.scenarios.length === 1 ? '' : 's'}`,
    `${total - failed}/${total} assertions passed`,
    `generated ${esc(page.generatedAt.toISOString())}`,
  ].filter((f) => f !== undefined);
  const timings = Object.entries(h?.timings ?? {})
    .map(([step, s]) => `<span class="timing">${esc(step)} <b>${s} s</b></span>`)
    .join(' ');
  const errors = (h?.scenarios ?? []).filter((s) => s.error !== undefined);
  return `<header>
<h1>Skewless e2e report <span class="verdict ${failed === 0 && errors.length === 0 && !h?.setupError ? 'pass' : 'fail'}">${failed === 0 && errors.length === 0 && !h?.setupError ? '✓' : '✗'}</span></h1>
<p class="meta">${facts.join(' · ')}</p>
${timings ? `<p class="timings">Cluster timings: ${timings}</p>` : ''}
${h?.setupError ? `<p class="error">Cluster set-up failed: ${esc(h.setupError)}</p>` : ''}
</header>`;
}

function problemsHtml(problems: readonly string[]): string {
  if (problems.length === 0) return '';
  return `<section class="problems" data-problems="${problems.length}"><h2>Results files not shown</h2><ul>${problems
    .map((p) => `<li><code>${esc(p)}</code></li>`)
    .join('')}</ul></section>`;
}

function assertionsHtml(scenarios: readonly ReportedScenario[], header: E2eSummary | undefined): string {
  const rows = scenarios.flatMap((s) =>
    s.assertions.map(
      (a) =>
        `<tr data-scenario="${esc(s.scenario)}" data-passed="${a.passed}"><td>${esc(s.scenario)}</td><td>${esc(a.name)}</td><td>${esc(a.threshold)}</td><td class="num">${esc(String(a.value))}</td><td class="result ${a.passed ? 'pass' : 'fail'}">${a.passed ? '✓' : '✗'}</td></tr>`,
    ),
  );
  // A scenario that threw has no results file, only its error in e2e.json.
  const errors = (header?.scenarios ?? [])
    .filter((s) => s.error !== undefined)
    .map(
      (s) =>
        `<tr data-scenario="${esc(s.name)}" data-passed="false" data-error="true"><td>${esc(s.name)}</td><td>the scenario ran to the end</td><td>no error</td><td>${esc(s.error ?? '')}</td><td class="result fail">✗</td></tr>`,
    );
  return `<section><h2>Assertions</h2>
<table class="assertions"><thead><tr><th>Scenario</th><th>Assertion</th><th>Threshold</th><th>Value</th><th>Result</th></tr></thead>
<tbody>${[...rows, ...errors].join('\n')}</tbody></table></section>`;
}

function scenarioHtml(s: ReportedScenario, charts: readonly ChartSpec[], header: E2eSummary | undefined): string {
  const own = charts.filter((c) => c.scenario === s.scenario);
  // A results file left from an earlier `make e2e` (this run skipped or lost the scenario) says so.
  const stale = header !== undefined && Date.parse(s.startedAt) < Date.parse(header.startedAt);
  const codes = Object.entries(s.totals.byCode)
    .map(([code, n]) => `${esc(code)} ${n}`)
    .join(', ');
  return `<section data-scenario="${esc(s.scenario)}"><h2>${esc(s.scenario)}</h2>
<p class="meta">driver ${esc(s.driver)} · started ${esc(s.startedAt)} · ${s.durationS} s · ${s.totals.requests} requests, ${s.totals.errors} failed${codes ? ` (${codes})` : ''} · ${s.perPod.length} pods${stale ? ' · <span class="stale">from an earlier run than e2e.json</span>' : ''}</p>
<div class="charts">${own.map(figureHtml).join('')}</div></section>`;
}

function figureHtml(c: ChartSpec): string {
  return `<figure class="${c.wide ? 'wide' : ''}"><div class="chart" data-chart="${esc(c.id)}" data-values="${esc(JSON.stringify(c.values))}" style="height:${c.heightPx}px"></div><figcaption>${esc(c.note)}</figcaption></figure>`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** JSON safe inside a <script> element: no `</script>` or `<!--` can appear. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 16px 24px 48px; max-width: 1400px; color: #222; background: #fafafa; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta, .timings { color: #555; margin: 2px 0; } .timing { white-space: nowrap; margin-right: 10px; }
.verdict.pass, .result.pass { color: #1a7f37; } .verdict.fail, .result.fail, .error { color: #c62828; } .stale { color: #b26a00; font-weight: bold; }
.problems { background: #fdecea; border: 1px solid #f5c2c0; padding: 4px 16px; border-radius: 6px; }
table.assertions { border-collapse: collapse; width: 100%; background: #fff; }
.assertions th, .assertions td { border: 1px solid #e3e3e3; padding: 4px 8px; text-align: left; vertical-align: top; }
.assertions th { background: #f0f0f0; } .assertions td.num { font-variant-numeric: tabular-nums; }
.assertions td.result { font-weight: bold; text-align: center; width: 4em; }
.assertions tr[data-passed="false"] { background: #fff5f5; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(400px, 1fr)); gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px; min-width: 0; }
figure.wide { grid-column: 1 / -1; } figcaption { color: #666; font-size: 12px; margin-top: 4px; }
.chart { width: 100%; }
`;

const BOOT = `(() => {
  const entries = JSON.parse(document.getElementById('chart-options').textContent);
  const finished = new Set();
  const charts = [];
  window.__chartErrors = [];
  window.__chartsExpected = entries.length;
  if (entries.length === 0) window.__chartsRendered = 0;
  for (const [id, option] of entries) {
    const el = document.querySelector('[data-chart="' + id + '"]');
    try {
      const chart = echarts.init(el, null, { renderer: 'canvas' });
      chart.on('finished', () => {
        finished.add(id);
        if (finished.size === entries.length) window.__chartsRendered = entries.length;
      });
      chart.setOption(option);
      charts.push(chart);
    } catch (error) {
      window.__chartErrors.push(id + ': ' + error.message);
      el.textContent = 'This chart failed to draw: ' + error.message;
    }
  }
  window.addEventListener('resize', () => { for (const chart of charts) chart.resize(); });
})();`;
