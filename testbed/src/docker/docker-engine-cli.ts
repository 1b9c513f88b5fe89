#!/usr/bin/env node
/**
 * The testbed's Docker engine from a shell or a make target:
 *
 *   node testbed/src/docker/docker-engine-cli.ts exec -- CMD [ARG…]   run CMD with DOCKER_HOST set; stops the
 *                                                                     engine afterwards if it started it
 *   node testbed/src/docker/docker-engine-cli.ts start                start (or join) and keep it; prints DOCKER_HOST=…
 *   node testbed/src/docker/docker-engine-cli.ts stop                 stop a kept or orphaned engine nobody uses
 *   node testbed/src/docker/docker-engine-cli.ts env                  print DOCKER_HOST=… of the engine that answers
 *
 * The machine's own engine (DOCKER_HOST, /var/run/docker.sock) is used when it answers and never stopped.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { runningDockerEngine, startDockerEngine, stopKeptDockerEngine } from './docker-engine.ts';
import { pingDocker, SYSTEM_DOCKER_HOST } from './docker-ping.ts';

const USAGE = 'usage: docker-engine-cli.ts exec -- CMD [ARG…] | start | stop | env';

async function main(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true });
  const [command, ...rest] = positionals;
  switch (command) {
    case 'exec':
      return execWithEngine(rest);
    case 'start': {
      const engine = await startDockerEngine({ keep: true });
      // Kept: dropping this process's reference leaves it running until `stop`.
      await engine.stop();
      process.stdout.write(`DOCKER_HOST=${engine.host}\n`);
      return 0;
    }
    case 'stop':
      process.stderr.write(`[docker] ${await stopKeptDockerEngine()}\n`);
      return 0;
    case 'env': {
      const host = await answeringHost();
      if (host === undefined) {
        process.stderr.write('[docker] no Docker engine answers: run `docker-engine-cli.ts start` first\n');
        return 1;
      }
      process.stdout.write(`DOCKER_HOST=${host}\n`);
      return 0;
    }
    default:
      process.stderr.write(`${command === undefined ? 'no command' : `unknown command "${command}"`}\n${USAGE}\n`);
      return 2;
  }
}

async function answeringHost(): Promise<string | undefined> {
  for (const host of [process.env.DOCKER_HOST, SYSTEM_DOCKER_HOST]) {
    if (host !== undefined && host !== '' && (await pingDocker(host)) === true) return host;
  }
  return runningDockerEngine();
}

async function execWithEngine(argv: string[]): Promise<number> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error(`exec needs a command to run\n${USAGE}`);
  const engine = await startDockerEngine();
  try {
    const child = spawn(file, args, { stdio: 'inherit', env: { ...process.env, DOCKER_HOST: engine.host } });
    // Ctrl-C reaches the child through the terminal's process group; a TERM sent to us is passed on.
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', () => {});
    process.on('SIGTERM', forward);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', (error) => reject(new Error(`cannot run ${file}: ${error.message}`)));
      child.once('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
    });
    return code ?? 128 + (signal === 'SIGINT' ? 2 : 15);
  } finally {
    await engine.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    process.stderr.write(`[docker] ERROR: ${error.message}\n`);
    process.exitCode = 1;
  },
);
