/**
 * A crashed test run (a killed vitest worker, a CI timeout) leaves detached etcd and kube-apiserver
 * groups behind. Every run records its owner and groups in its temp dir; the next run sweeps dirs whose
 * owner is dead, stopping only groups whose leader still runs the binary recorded for it.
 */
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@skewless/shared';
import { signalGroup } from './process-group.ts';

const RECORD = 'run.json';

interface RunRecord {
  ownerPid: number;
  groups: { pid: number; exe: string }[];
}

export class RunDirRecord {
  private readonly record: RunRecord = { ownerPid: process.pid, groups: [] };
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    this.write();
  }

  addGroup(pid: number, exe: string): void {
    this.record.groups.push({ pid, exe });
    this.write();
  }

  private write(): void {
    writeFileSync(join(this.dir, RECORD), JSON.stringify(this.record));
  }
}

export function sweepLeftovers(parent: string, prefix: string, logger: Logger): void {
  let names: string[];
  try {
    names = readdirSync(parent).filter((name) => name.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(parent, name);
    const record = readRecord(dir);
    // Another live run (a parallel test file) owns it; a dir without a record is mid-creation.
    if (record === undefined || isAlive(record.ownerPid)) continue;
    killRecordedGroups(record.groups, logger, { dir });
    rmSync(dir, { recursive: true, force: true });
    logger.info({ dir }, 'removed a temp dir left by a crashed run');
  }
}

function readRecord(dir: string): RunRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, RECORD), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

/** SIGKILLs each recorded group whose leader still runs the binary recorded for it. */
export function killRecordedGroups(
  groups: readonly { pid: number; exe: string }[],
  logger: Logger,
  context: Record<string, unknown> = {},
): void {
  for (const group of groups) {
    if (runs(group.pid, group.exe)) {
      logger.warn({ ...context, pid: group.pid, exe: group.exe }, 'stopping a process group left by a crashed run');
      signalGroup(group.pid, 'SIGKILL');
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Guards against PID reuse: only a process still running the recorded binary is ours. */
function runs(pid: number, exe: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`).startsWith(exe);
  } catch {
    return false;
  }
}
