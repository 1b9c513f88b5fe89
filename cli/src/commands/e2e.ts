import path from 'node:path';
import { runE2e } from '@skewless/e2e';
import { Command } from 'commander';

export function e2eCommand(): Command {
  return new Command('e2e')
    .description('The main job: end-to-end checks against real components (the local cluster arrives with #4)')
    .option('--cluster <driver>', 'cluster driver: local (kind, k3s, existing arrive with #6)', 'local')
    .action(async (opts: { cluster: string }) => {
      process.exitCode = await runE2e({
        repoRoot: path.resolve(import.meta.dirname, '../../..'),
        cluster: opts.cluster,
      });
    });
}
