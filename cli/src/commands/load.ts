import { LOAD_OPTIONS, parseLoadConfig, runLoad } from '@skewless/load';
import { createLogger, formatProblemList } from '@skewless/shared';
import { Command, Option } from 'commander';
import { applyNiceOption } from './nice-option.ts';

/**
 * `skewless load`: open-loop gRPC Echo load, as a pod runs it (identity from the downward API:
 * POD_NAME, ZONE) or from a shell. Flags and env (flags win) come from one table in the load
 * package. Progress goes to stderr once per second (JSON logs); the result is ONE JSON line, the
 * last line of stdout. Exit codes: 0 when the run completed — failed calls are data, not failure —
 * also after SIGTERM/SIGINT cut it short (`stoppedEarly: true`); 1 on an internal failure or a
 * second signal; 2 on invalid configuration (every problem listed).
 */
export function loadCommand(): Command {
  const command = new Command('load').description(
    'Drive open-loop gRPC Echo load and report which pods answered: per-pod counts, latency, skew, zone share',
  );
  const attributes = LOAD_OPTIONS.map(({ key, flag, env, value, description }) => {
    const option = new Option(`${flag} <${value}>`, `${description} [env ${env}]`);
    command.addOption(option);
    return { key, attribute: option.attributeName() };
  });
  return command.action(async (opts: Record<string, string | undefined>) => {
    const parsed = parseLoadConfig({
      env: process.env,
      flags: Object.fromEntries(attributes.map(({ key, attribute }) => [key, opts[attribute]])),
    });
    if (!parsed.ok) {
      process.stderr.write(`skewless load: invalid configuration:\n${formatProblemList(parsed.problems)}\n`);
      process.exitCode = 2;
      return;
    }
    const logger = createLogger('load', parsed.config.logLevel);
    const cpuPriority = applyNiceOption(parsed.config.nice, logger);
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) {
        logger.warn({ signal }, 'second signal: exiting without a result');
        process.exit(1);
      }
      logger.info({ signal }, 'signal received: stopping early');
      controller.abort();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      const result = await runLoad(parsed.config, {
        logger,
        signal: controller.signal,
        onProgress: (point) => logger.info({ progress: point }, `second ${point.t}`),
      });
      // The niceness is the process's, set here, not the run's: the result carries it from here.
      process.stdout.write(`${JSON.stringify(cpuPriority ? { ...result, cpuPriority } : result)}\n`);
      process.exitCode = 0;
      // Channels and the ADS stream are closed by now, but grpc-js does not abort a connect already
      // under way: after a rollout, connects to deleted pods' addresses sit in SYN-SENT until the
      // kernel gives up (~2 min), and the load pod would stay Running. Say what is open, and end.
      setTimeout(() => {
        logger.warn(
          { activeResources: process.getActiveResourcesInfo() },
          'still running 2 s after the result; exiting',
        );
        process.exit(0);
      }, 2000).unref();
    } catch (error) {
      logger.error({ err: error }, 'load run failed');
      process.exitCode = 1;
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  });
}
