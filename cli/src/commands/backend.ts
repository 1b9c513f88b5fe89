import { createLogger, formatProblemList } from '@skewless/shared';
import { BACKEND_OPTIONS, loadBackendConfig, type StartedBackend, startBackend } from '@skewless/testbed/backend';
import { Command, Option } from 'commander';
import { applyNiceOption } from './nice-option.ts';

/**
 * `skewless backend`: the instrumented Echo backend, as it runs in a pod. Flags and env (flags win)
 * come from one table in the testbed; on success it prints `{"grpcPort":…,"httpPort":…}` on stdout.
 * Exit codes: 0 after a drain, 1 when it cannot start or a second signal cuts the drain short,
 * 2 on invalid configuration.
 */
export function backendCommand(): Command {
  const command = new Command('backend').description(
    'Run the instrumented gRPC Echo backend: identity in replies, metrics, health, fault injection, graceful drain',
  );
  const attributes = BACKEND_OPTIONS.map(({ key, flag, env, value, description }) => {
    const option = new Option(`${flag} <${value}>`, `${description} [env ${env}]`);
    command.addOption(option);
    return { key, attribute: option.attributeName() };
  });
  return command.action(async (opts: Record<string, string | undefined>) => {
    const result = loadBackendConfig({
      env: process.env,
      flags: Object.fromEntries(attributes.map(({ key, attribute }) => [key, opts[attribute]])),
    });
    if (!result.ok) {
      process.stderr.write(`skewless backend: invalid configuration:\n${formatProblemList(result.problems)}\n`);
      process.exitCode = 2;
      return;
    }
    const logger = createLogger('backend', result.config.logLevel);
    applyNiceOption(result.config.nice, logger);
    let backend: StartedBackend;
    try {
      backend = await startBackend(result.config, { logger });
    } catch (error) {
      logger.error({ err: error }, 'could not start');
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`${JSON.stringify({ grpcPort: backend.grpcPort, httpPort: backend.httpPort })}\n`);

    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: stopping at once');
        void backend.close().finally(() => process.exit(1));
        return;
      }
      stopping = true;
      logger.info({ signal }, 'signal received');
      backend.drain().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'drain failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
