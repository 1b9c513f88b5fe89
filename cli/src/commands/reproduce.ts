import path from 'node:path';
import { Command } from 'commander';

export function reproduceCommand(): Command {
  return new Command('reproduce')
    .description(
      'Reproduce a skew incident from a scenario file: boots a cluster with its zones, runs it, writes results and a report',
    )
    .argument('<scenario-file>', 'a scenario file (YAML; see e2e/README.md and examples/)')
    .option('--cluster <driver>', 'cluster driver: local (kind, k3s, existing arrive with #6)', 'local')
    .option('--results <dir>', 'where the result JSON, e2e.json and report.html go', 'results/reproduce')
    .option('--keep-on-failure', 'leave the cluster running after a failure (make cluster-down removes it)')
    .action(async (file: string, opts: { cluster: string; results: string; keepOnFailure?: boolean }) => {
      const { readScenarioFile, runSuite } = await import('@skewless/e2e');
      let scenario: ReturnType<typeof readScenarioFile>;
      try {
        scenario = readScenarioFile(path.resolve(file));
      } catch (error) {
        process.stderr.write(`reproduce: ${(error as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const zones = Array.from({ length: scenario.cluster.zones }, (_, i) => `zone-${String.fromCharCode(97 + i)}`);
      process.exitCode = await runSuite({
        repoRoot: path.resolve(import.meta.dirname, '../../..'),
        cluster: opts.cluster,
        scenarios: [scenario],
        zones,
        resultsDir: path.resolve(opts.results),
        keepOnFailure: opts.keepOnFailure ?? false,
      });
    });
}
