/**
 * Runs the kind binary and the docker CLI against one Docker engine (`DOCKER_HOST`), with kind's
 * provider fixed to Docker. Each command is a child of ours, stopped by its PID on timeout; its output is
 * read on 'close' so the last stderr line is never lost.
 */
import { spawn } from 'node:child_process';
import { toolPath } from '../../apiserver/tool-path.ts';

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly timeoutMs?: number;
  /** Each line of stderr as it arrives (kind prints its progress there). */
  readonly onLine?: (line: string) => void;
}

export interface KindCli {
  readonly kindPath: string;
  readonly env: NodeJS.ProcessEnv;
  /** `kind <args>`; resolves with the result whatever the exit code. */
  kind(args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** `docker <args>`, against the same engine. */
  docker(args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** `kind <args>`; rejects with the command and kind's own error lines unless it exits 0. */
  kindOk(args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** The clusters kind knows in this engine. */
  getClusters(): Promise<string[]>;
}

export function kindCli(options: { kindPath?: string | undefined; dockerHost?: string | undefined }): KindCli {
  const kindPath = options.kindPath ?? toolPath('kind');
  const env: NodeJS.ProcessEnv = { ...process.env, KIND_EXPERIMENTAL_PROVIDER: 'docker' };
  if (options.dockerHost) env.DOCKER_HOST = options.dockerHost;
  const cli: KindCli = {
    kindPath,
    env,
    kind: (args, runOptions) => runCommand(kindPath, args, env, runOptions),
    docker: (args, runOptions) => runCommand('docker', args, env, runOptions),
    async kindOk(args, runOptions) {
      const result = await cli.kind(args, runOptions);
      if (result.code !== 0)
        throw new Error(`${describe(['kind', ...args], result)}\n${kindErrorLines(result.stderr)}`);
      return result;
    },
    async getClusters() {
      const result = await cli.kindOk(['get', 'clusters']);
      // "No kind clusters found." goes to stderr; stdout has one name a line.
      return result.stdout.split('\n').filter((line) => line.trim() !== '');
    },
  };
  return cli;
}

export function runCommand(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: RunOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (!options.onLine) return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') options.onLine(line);
    });
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }, options.timeoutMs);
    }
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} could not be started: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (options.onLine && partial.trim() !== '') options.onLine(partial);
      if (timedOut) {
        reject(new Error(`${[command, ...args].join(' ')} did not finish within ${options.timeoutMs} ms`));
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function describe(argv: readonly string[], result: CommandResult): string {
  const how = result.signal ? `was killed by ${result.signal}` : `exited ${result.code}`;
  return `\`${argv.join(' ')}\` ${how}`;
}

/** kind's `ERROR: …` line and what follows it (the failing command's output), else the last lines. */
export function kindErrorLines(stderr: string): string {
  const at = stderr.indexOf('ERROR:');
  const text = at >= 0 ? stderr.slice(at) : stderr.split('\n').slice(-10).join('\n');
  return text.trim().slice(0, 4000);
}
