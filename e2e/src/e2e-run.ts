/**
 * `make e2e` / `skewless e2e`: the main job. Boots a cluster — the embedded `local` one by default, or
 * kind, k3s (`--cluster`) — (progress and timings printed), deploys Skewless with the manifests, waits for every pod, runs the cluster scenarios,
 * writes `results/<scenario>.json` and `results/e2e.json`, and tears everything down — also after a
 * failure or Ctrl-C. A run killed outright (kill -9) is cleared by the next run's first step.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLUSTER_DRIVERS, type ClusterDriverOptions, clusterDriver, isClusterDriverName } from './cluster-drivers.ts';
import { type ClusterSession, openClusterSession } from './cluster-session.ts';
import { renderReport } from './report/render-report.ts';
import { screenshotReport } from './report/report-screenshot.ts';
import { readScenarioDir, type ScenarioFile } from './scenario-file.ts';
import type { ScenarioResult } from './scenario-metrics.ts';
import { runScenario } from './scenario-runner.ts';

/** The suite `make e2e` runs: every file in e2e/scenarios. */
export function scenarioDir(repoRoot: string): string {
  return path.join(repoRoot, 'e2e', 'scenarios');
}

export interface E2eOptions {
  readonly repoRoot: string;
  readonly cluster: string;
  /** The options of the `existing` and `k3s` drivers. */
  readonly driverOptions?: ClusterDriverOptions;
  /** Run only these scenarios (default: all). */
  readonly scenarios?: readonly string[];
  /** Leave the cluster running after a failure, for a look around (make cluster-down removes it). */
  readonly keepOnFailure?: boolean;
}

export async function runE2e(options: E2eOptions): Promise<number> {
  let all: ScenarioFile[];
  try {
    all = readScenarioDir(scenarioDir(options.repoRoot));
  } catch (error) {
    process.stderr.write(`e2e: ${(error as Error).message}\n`);
    return 2;
  }
  const unknown = (options.scenarios ?? []).filter((name) => !all.some((s) => s.name === name));
  if (unknown.length > 0) {
    process.stderr.write(
      `e2e: unknown scenario(s) ${unknown.join(', ')} (known: ${all.map((s) => s.name).join(', ')})\n`,
    );
    return 2;
  }
  const selected = options.scenarios?.length ? all.filter((s) => options.scenarios?.includes(s.name)) : all;
  return runSuite({
    repoRoot: options.repoRoot,
    cluster: options.cluster,
    ...(options.driverOptions ? { driverOptions: options.driverOptions } : {}),
    scenarios: selected,
    resultsDir: path.join(options.repoRoot, 'results'),
    keepOnFailure: options.keepOnFailure ?? false,
  });
}

export interface SuiteOptions {
  readonly repoRoot: string;
  readonly cluster: string;
  readonly driverOptions?: ClusterDriverOptions;
  readonly scenarios: readonly ScenarioFile[];
  readonly resultsDir: string;
  /** Zone names of the cluster (default: the driver's three). */
  readonly zones?: readonly string[];
  readonly keepOnFailure: boolean;
}

/** Boots a cluster, runs the scenarios on it, writes each result, e2e.json and the report; tears down. */
export async function runSuite(options: SuiteOptions): Promise<number> {
  if (!isClusterDriverName(options.cluster)) {
    process.stderr.write(`e2e: unknown cluster driver '${options.cluster}' (known: ${CLUSTER_DRIVERS.join(', ')})\n`);
    return 2;
  }
  const driver = clusterDriver(options.cluster, options.driverOptions);
  const selected = options.scenarios;
  const began = performance.now();
  const startedAt = new Date().toISOString();
  const resultsDir = options.resultsDir;
  /** How the printed lines name the results folder (relative to where the user ran from). */
  const shown = path.relative(process.cwd(), resultsDir) || '.';
  mkdirSync(resultsDir, { recursive: true });
  // Logs are collected after a failure; an earlier run's must not be mistaken for this one's.
  rmSync(path.join(resultsDir, 'logs'), { recursive: true, force: true });
  process.stdout.write(`e2e: ${driver.kind} cluster, scenarios: ${selected.map((s) => s.name).join(', ')}\n`);
  let session: ClusterSession | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`e2e: ${signal}: tearing the cluster down\n`);
    void (session?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const outcomes: { name: string; passed: boolean; error?: string; assertions?: ScenarioResult['assertions'] }[] = [];
  let setupError: string | undefined;
  try {
    session = await openClusterSession({
      repoRoot: options.repoRoot,
      driver,
      ...(options.zones ? { zones: options.zones } : {}),
      keepOnFailure: options.keepOnFailure,
    });
    for (const scenario of selected) {
      process.stderr.write(`[e2e] ▸ scenario ${scenario.name}: ${scenario.description}\n`);
      try {
        const result = await runScenario(session, scenario);
        writeFileSync(path.join(resultsDir, `${scenario.name}.json`), `${JSON.stringify(result, null, 2)}\n`);
        const passed = result.assertions.every((a) => a.passed);
        for (const a of result.assertions) {
          process.stderr.write(`[e2e]   ${a.passed ? '✓' : '✗'} ${a.name}: ${a.value} (want ${a.threshold})\n`);
        }
        process.stderr.write(
          `[e2e] ${passed ? '✓' : '✗'} scenario ${scenario.name} in ${result.durationS} s — ${shown}/${scenario.name}.json\n`,
        );
        outcomes.push({ name: scenario.name, passed, assertions: result.assertions });
      } catch (error) {
        process.stderr.write(`[e2e] ✗ scenario ${scenario.name} failed: ${(error as Error).message}\n`);
        outcomes.push({ name: scenario.name, passed: false, error: (error as Error).message });
      }
    }
  } catch (error) {
    setupError = (error as Error).message;
    process.stderr.write(`[e2e] ✗ cluster set-up failed: ${setupError}\n`);
  } finally {
    const failed = setupError !== undefined || outcomes.some((o) => !o.passed);
    if (failed && session) {
      const files = await session.cluster.collectLogs(path.join(resultsDir, 'logs')).catch(() => []);
      process.stderr.write(`[e2e] collected ${files.length} log files into ${shown}/logs/\n`);
    }
    if (session && !(failed && options.keepOnFailure)) await session.close();
  }

  const passed = setupError === undefined && outcomes.every((o) => o.passed);
  const summary = {
    job: 'e2e',
    cluster: options.cluster,
    startedAt,
    durationS: Math.round((performance.now() - began) / 100) / 10,
    commit: gitCommit(options.repoRoot),
    timings: session?.timings ?? {},
    passed,
    setupError,
    scenarios: outcomes,
  };
  writeFileSync(path.join(resultsDir, 'e2e.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const report = renderReport({ resultsDir, outFile: path.join(resultsDir, 'report.html') });
  for (const problem of report.problems) process.stderr.write(`[e2e] report: ${problem}\n`);
  process.stdout.write(`e2e: report with ${report.charts.length} charts — ${shown}/report.html\n`);
  const shot = await screenshotReport(report.outFile, path.join(resultsDir, 'report.png'), report.charts.length);
  process.stdout.write(
    shot.ok ? `e2e: screenshot — ${shown}/report.png\n` : `e2e: no screenshot of the report: ${shot.reason}\n`,
  );
  const ok = outcomes.filter((o) => o.passed).length;
  process.stdout.write(
    `e2e: ${ok}/${selected.length} scenarios passed in ${summary.durationS} s — ${shown}/e2e.json\n`,
  );
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return passed ? 0 : 1;
}

function gitCommit(repoRoot: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}
