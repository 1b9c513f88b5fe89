import path from 'node:path';
import { Command } from 'commander';

export function e2eCommand(): Command {
  return new Command('e2e')
    .description('The main job: end-to-end checks against real components (the local cluster arrives with #4)')
    .option('--cluster <driver>', 'cluster driver: local (kind, k3s, existing arrive with #6)', 'local')
    .action(async (opts: { cluster: string }) => {
      const { runE2e } = await import('@skewless/e2e');
      process.exitCode = await runE2e({
        repoRoot: path.resolve(import.meta.dirname, '../../..'),
        cluster: opts.cluster,
      });
    });
}
