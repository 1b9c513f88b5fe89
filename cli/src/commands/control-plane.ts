import { createLogger } from '@skewless/shared';
import { Command, Option } from 'commander';

const int = (value: string) => Number.parseInt(value, 10);

export function controlPlaneCommand(): Command {
  return new Command('control-plane')
    .description('Run the Endpoint Discovery Service: watch EndpointSlices, serve xDS (ADS) to clients and Envoy')
    .option('-c, --config <file>', 'JSON config file (flags and SKEWLESS_* env override it)')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: in-cluster, else ~/.kube/config)')
    .option('--namespaces <list>', 'comma-separated namespaces to watch (default: all)', (v) => v.split(','))
    .option('--xds-address <host:port>', 'ADS gRPC listen address (default 0.0.0.0:18000)')
    .option('--http-address <host:port>', '/healthz, /readyz and /metrics listen address (default 0.0.0.0:9090)')
    .option('--batch-window-ms <ms>', 'coalesce changes within this window into one push (default 20)', int)
    .option('--zone-affinity-by-default', 'serve each client its own zone at priority 0 (for gRPC proxyless, Envoy)')
    .addOption(new Option('--log-level <level>').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
    .action(async (opts) => {
      const { formatProblems, loadConfig, startControlPlane } = await import('@skewless/control-plane');
      const result = loadConfig({
        file: opts.config,
        env: process.env,
        flags: {
          kubeconfig: opts.kubeconfig,
          namespaces: opts.namespaces,
          xdsAddress: opts.xdsAddress,
          httpAddress: opts.httpAddress,
          batchWindowMs: opts.batchWindowMs,
          zoneAffinityByDefault: opts.zoneAffinityByDefault,
          logLevel: opts.logLevel,
        },
      });
      if (!result.ok) {
        process.stderr.write(`skewless control-plane: invalid configuration:\n${formatProblems(result.problems)}\n`);
        process.exitCode = 2;
        return;
      }
      const logger = createLogger('control-plane', result.config.logLevel);
      let running: Awaited<ReturnType<typeof startControlPlane>>;
      try {
        running = await startControlPlane(result.config, { logger });
      } catch (error) {
        process.stderr.write(`skewless control-plane: could not start: ${(error as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const stop = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        running.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
