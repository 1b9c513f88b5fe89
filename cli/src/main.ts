#!/usr/bin/env node
/**
 * `skewless`: one CLI for every part. Each subcommand lives in its own file under commands/.
 */
import { Command } from 'commander';
import { backendCommand } from './commands/backend.ts';
import { clusterCommand } from './commands/cluster.ts';
import { controlPlaneCommand } from './commands/control-plane.ts';
import { e2eCommand } from './commands/e2e.ts';
import { loadCommand } from './commands/load.ts';
import { reproduceCommand } from './commands/reproduce.ts';

const program = new Command()
  .name('skewless')
  .description('Per-request, zone-aware load balancing for gRPC on Kubernetes — control plane, client and testbed')
  .showHelpAfterError()
  .addCommand(clusterCommand())
  .addCommand(controlPlaneCommand())
  .addCommand(e2eCommand())
  .addCommand(reproduceCommand())
  .addCommand(backendCommand())
  .addCommand(loadCommand());

await program.parseAsync(process.argv);
