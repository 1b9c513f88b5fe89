/**
 * `make report`: node e2e/src/report/main.ts [--results results] [--out results/report.html].
 * Prints the page's path and a one-line summary; exits 1 when a results file was left out as malformed
 * (the page is written all the same, listing it), 2 on a usage error or a missing results folder.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { renderReport } from './render-report.ts';

function main(): number {
  let values: { results?: string; out?: string };
  try {
    ({ values } = parseArgs({
      options: { results: { type: 'string', default: 'results' }, out: { type: 'string' } },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(
      `report: ${(error as Error).message}\nusage: node e2e/src/report/main.ts [--results results] [--out results/report.html]\n`,
    );
    return 2;
  }
  const resultsDir = values.results ?? 'results';
  const outFile = values.out ?? path.join(resultsDir, 'report.html');
  let report: ReturnType<typeof renderReport>;
  try {
    report = renderReport({ resultsDir, outFile });
  } catch (error) {
    process.stderr.write(`report: ${(error as Error).message}\n`);
    return 2;
  }
  for (const problem of report.problems) process.stderr.write(`report: left out ${problem}\n`);
  process.stdout.write(`${report.outFile}\n`);
  process.stdout.write(
    `report: ${report.scenarios.length} scenarios (${report.scenarios.join(', ') || 'none'}), ${report.charts.length} charts, ${report.problems.length} problems\n`,
  );
  return report.problems.length > 0 ? 1 : 0;
}

process.exitCode = main();
