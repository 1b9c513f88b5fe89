/**
 * Reads a results folder: `e2e.json` as the run's header and every other `*.json` as a scenario result.
 * A file that is not valid JSON or breaks the schema is left out and named in `problems` (with the path
 * of every bad field); the other files are still read.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type E2eSummary,
  e2eSummarySchema,
  parseResultFile,
  type ReportedScenario,
  scenarioResultSchema,
} from './scenario-result.ts';

export const SUMMARY_FILE = 'e2e.json';

export interface ResultsRead {
  readonly header: E2eSummary | undefined;
  /** In the order the run listed them (e2e.json), then by name. */
  readonly scenarios: ReportedScenario[];
  readonly problems: string[];
}

export function readResults(resultsDir: string): ResultsRead {
  if (!existsSync(resultsDir)) throw new Error(`${resultsDir}: no such results folder (run make e2e first)`);
  const files = readdirSync(resultsDir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => entry.name)
    .sort();
  const problems: string[] = [];
  let header: E2eSummary | undefined;
  const byName = new Map<string, { file: string; result: ReportedScenario }>();
  for (const name of files) {
    const file = path.join(resultsDir, name);
    const text = readFileSync(file, 'utf8');
    if (name === SUMMARY_FILE) {
      const parsed = parseResultFile(e2eSummarySchema, text, file);
      if (parsed.ok) header = parsed.value;
      else problems.push(...parsed.problems);
      continue;
    }
    const parsed = parseResultFile(scenarioResultSchema, text, file);
    if (!parsed.ok) {
      problems.push(...parsed.problems);
      continue;
    }
    const earlier = byName.get(parsed.value.scenario);
    if (earlier) {
      problems.push(`${file}: scenario: '${parsed.value.scenario}' was already read from ${earlier.file}; left out`);
      continue;
    }
    byName.set(parsed.value.scenario, { file, result: parsed.value });
  }
  const runOrder = header?.scenarios.map((s) => s.name) ?? [];
  const rank = (name: string) => (runOrder.includes(name) ? runOrder.indexOf(name) : runOrder.length);
  const scenarios = [...byName.values()]
    .map((entry) => entry.result)
    .sort((a, b) => rank(a.scenario) - rank(b.scenario) || a.scenario.localeCompare(b.scenario));
  return { header, scenarios, problems };
}
