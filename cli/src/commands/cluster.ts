/**
 * `skewless cluster up|down`: keep a local cluster running for exploration (`make cluster-up`), and
 * remove it again (`make cluster-down`, which also clears anything a crashed run left).
 */
import { createLogger } from '@skewless/shared';
import { Command } from 'commander';

export function clusterCommand(): Command {
  const cluster = new Command('cluster').description('Keep a local cluster for exploration, or remove it');
  cluster
    .command('up')
    .description('Boot the embedded local cluster and leave it running (prints the kubeconfig to use)')
    .option('--zones <list>', 'comma-separated zones, one node each', 'zone-a,zone-b,zone-c')
    .option('--region <name>', 'region label of every node', 'region-1')
    .action(async (opts: { zones: string; region: string }) => {
      // Loaded on use: every pod runs this CLI, and the drivers pull in @kubernetes/client-node.
      const { localClusterDriver } = await import('@skewless/testbed');
      const zones = opts.zones
        .split(',')
        .map((zone) => zone.trim())
        .filter(Boolean);
      const configured = localClusterDriver({ keep: true }).configure({
        zones,
        region: opts.region,
        keepOnFailure: false,
      });
      const started = await configured.start();
      process.stdout.write(
        `${JSON.stringify({ cluster: started.name, kubeconfig: started.kubeconfigPath, zones, bootS: started.timings.total })}\n`,
      );
      process.stderr.write(`\n  export KUBECONFIG=${started.kubeconfigPath}\n  make cluster-down   # when done\n\n`);
      // The cluster's processes run in their own groups and outlive this command on purpose.
      process.exit(0);
    });
  cluster
    .command('down')
    .description('Remove every local cluster (kept ones and crashed runs alike) that no running process owns')
    .action(async () => {
      const { defaultClusterParent, sweepClusters } = await import('@skewless/testbed');
      const removed = await sweepClusters(defaultClusterParent(), createLogger('cluster'), { includeKept: true });
      process.stderr.write(
        removed.length > 0 ? `[cluster] removed ${removed.join(', ')}\n` : '[cluster] nothing to remove\n',
      );
    });
  return cluster;
}
