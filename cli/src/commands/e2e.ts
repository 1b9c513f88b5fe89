import path from 'node:path';
import { Command, Option } from 'commander';

interface E2eFlags {
  cluster: string;
  scenario?: string[];
  keepOnFailure?: boolean;
  kubeconfig?: string;
  context?: string;
  confirmContext?: string;
  registry?: string;
  imageTag?: string;
  imagesOnNodes?: boolean;
  k3sPull?: 'missing' | 'never';
}

export function e2eCommand(): Command {
  return new Command('e2e')
    .description('The main job: boot a cluster, deploy Skewless, run the scenarios, write results/, tear down')
    .option(
      '--cluster <driver>',
      'cluster driver: local (embedded, no containers), kind or k3s (Docker), existing (a kubeconfig)',
      'local',
    )
    .option('--scenario <names>', 'comma-separated scenarios to run (default: all)', (v: string) => v.split(','))
    .option('--keep-on-failure', 'leave the cluster running after a failure (make cluster-down removes it)')
    .option('--kubeconfig <path>', 'existing: kubeconfig file(s) (default: KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', "existing: the kubeconfig context (default: the kubeconfig's current one)")
    .option(
      '--confirm-context <name>',
      'existing: run against a context that looks like production; must be its exact name',
    )
    .option('--registry <prefix>', 'existing: registry prefix our images are pushed under (e.g. ghcr.io/team)')
    .option('--image-tag <tag>', 'existing: the tag pushed images get (default: dev)')
    .option('--images-on-nodes', 'existing: the nodes have our images already (e.g. a local cluster): push nothing')
    .addOption(
      new Option('--k3s-pull <policy>', 'k3s: pull the k3s image when missing, or never').choices(['missing', 'never']),
    )
    .action(async (opts: E2eFlags) => {
      const { runE2e } = await import('@skewless/e2e');
      const existing = {
        ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
        ...(opts.context ? { context: opts.context } : {}),
        ...(opts.confirmContext ? { confirmContext: opts.confirmContext } : {}),
        ...(opts.registry ? { registry: opts.registry } : {}),
        ...(opts.imageTag ? { imageTag: opts.imageTag } : {}),
        ...(opts.imagesOnNodes ? { imagesOnNodes: true } : {}),
      };
      process.exitCode = await runE2e({
        repoRoot: path.resolve(import.meta.dirname, '../../..'),
        cluster: opts.cluster,
        driverOptions: { existing, ...(opts.k3sPull ? { k3sPull: opts.k3sPull } : {}) },
        ...(opts.scenario ? { scenarios: opts.scenario } : {}),
        keepOnFailure: opts.keepOnFailure ?? false,
      });
    });
}
