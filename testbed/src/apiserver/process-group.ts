/**
 * A child process in a process group of its own, so stopping it also stops anything it forked, and
 * nothing else: signals go to `-pid`, the group we created, never to a process found by name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  readonly error?: Error;
}

export interface ProcessGroupOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** stdout and stderr are appended here (the file survives restarts, so one log tells the whole story). */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface ProcessGroup {
  readonly pid: number;
  /** Resolves when the group leader exits, however it ends. */
  readonly exited: Promise<ExitStatus>;
  hasExited(): boolean;
  /** SIGTERM to the group, then SIGKILL after `graceMs` if the leader is still running. */
  stop(graceMs?: number): Promise<ExitStatus>;
}

export function startProcessGroup(options: ProcessGroupOptions): ProcessGroup {
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: options.env ?? process.env,
    });
  } finally {
    closeSync(log);
  }
  // Do not keep the test runner alive for it; teardown (or the next run's leftover sweep) stops it.
  child.unref();
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    const settle = (result: ExitStatus) => {
      status = result;
      resolve(result);
    };
    child.once('exit', (code, signal) => settle({ code, signal }));
    child.once('error', (error) => settle({ code: null, signal: null, error }));
  });
  const pid = child.pid ?? -1;

  return {
    pid,
    exited,
    hasExited: () => status !== undefined,
    async stop(graceMs = 10_000) {
      if (status !== undefined || pid < 0) return exited;
      signalGroup(pid, 'SIGTERM');
      // A referenced timer also keeps a plain script alive until the exit arrives (the child is unref'd).
      const kill = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(kill);
      return result;
    },
  };
}

/** Signals a group we created; a group that is already gone is not an error. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
