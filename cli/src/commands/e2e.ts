import path from 'node:path';
import { Command } from 'commander';

export function e2eCommand(): Command {
  return new Command('e2e')
    .description('The main job: boot a cluster, deploy Skewless, run the scenarios, write results/, tear down')
    .option('--cluster <driver>', 'cluster driver: local (kind, k3s, existing arrive with #6)', 'local')
    .option('--scenario <names>', 'comma-separated scenarios to run (default: all)', (v: string) => v.split(','))
    .option('--keep-on-failure', 'leave the cluster running after a failure (make cluster-down removes it)')
    .action(async (opts: { cluster: string; scenario?: string[]; keepOnFailure?: boolean }) => {
      const { runE2e } = await import('@skewless/e2e');
      process.exitCode = await runE2e({
        repoRoot: path.resolve(import.meta.dirname, '../../..'),
        cluster: opts.cluster,
        ...(opts.scenario ? { scenarios: opts.scenario } : {}),
        keepOnFailure: opts.keepOnFailure ?? false,
      });
    });
}
