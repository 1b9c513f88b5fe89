/**
 * `renderReport`: results/*.json → one static results/report.html with ECharts charts (see report-html.ts).
 * `make report` runs it through main.ts; `make e2e` calls it once the scenarios are written.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { readResults } from './read-results.ts';
import { reportCharts } from './report-charts.ts';
import { reportHtml } from './report-html.ts';

export interface RenderReportOptions {
  readonly resultsDir: string;
  readonly outFile: string;
  readonly now?: () => Date;
}

export interface RenderedReport {
  readonly outFile: string;
  /** Scenarios shown, in page order. */
  readonly scenarios: string[];
  /** Chart ids (`data-chart`), in page order. */
  readonly charts: string[];
  /** Results files left out, each `<file>: <field path>: <what is wrong>`. */
  readonly problems: string[];
}

/** Writes the page even when some files are malformed; throws only when the results folder is missing. */
export function renderReport(options: RenderReportOptions): RenderedReport {
  const { header, scenarios, problems } = readResults(options.resultsDir);
  const charts = reportCharts(scenarios);
  const html = reportHtml({
    header,
    scenarios,
    charts,
    problems,
    echartsJs: readFileSync(echartsMinJs(), 'utf8'),
    generatedAt: (options.now ?? (() => new Date()))(),
  });
  mkdirSync(path.dirname(options.outFile), { recursive: true });
  writeFileSync(options.outFile, html);
  return {
    outFile: options.outFile,
    scenarios: scenarios.map((s) => s.scenario),
    charts: charts.map((c) => c.id),
    problems,
  };
}

/** The package's exports do not list dist/echarts.min.js; it sits beside the CommonJS entry. */
function echartsMinJs(): string {
  return path.join(path.dirname(createRequire(import.meta.url).resolve('echarts')), 'echarts.min.js');
}
