/**
 * Clusters outlive the checkout that made them in machine-wide places (network namespaces, a Docker
 * engine's containers), but each run's dir and record live in its own checkout. A run index — one file
 * per run, named by its id and holding its dir, on tmpfs so a reboot clears it with the namespaces —
 * lets a sweep in one checkout tell another checkout's live cluster from a crashed run's leftovers.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../apiserver/leftovers.ts';

/** What a run's record says about ownership (the local cluster's and kind's records both carry it). */
export interface RunOwnership {
  readonly ownerPid: number;
  readonly kept: boolean;
}

/** Records where run `id` keeps its dir (idempotent). */
export function indexRunDir(indexDir: string, id: string, runDir: string): void {
  mkdirSync(indexDir, { recursive: true });
  writeFileSync(join(indexDir, id), runDir);
}

/** The dir run `id` was indexed with, if any checkout indexed it. */
export function indexedRunDir(indexDir: string, id: string): string | undefined {
  try {
    return readFileSync(join(indexDir, id), 'utf8');
  } catch {
    return undefined;
  }
}

/** True when a checkout indexed run `id` and its record (read by `readRecord`) says the owner lives, or that it is kept. */
export function indexedRunIsLive(
  indexDir: string,
  id: string,
  readRecord: (runDir: string) => RunOwnership | undefined,
): boolean {
  const dir = indexedRunDir(indexDir, id);
  const record = dir === undefined ? undefined : readRecord(dir);
  return record !== undefined && (record.kept || isAlive(record.ownerPid));
}

export function unindexRun(indexDir: string, id: string): void {
  rmSync(join(indexDir, id), { force: true });
}

/** Drops entries whose run dir is gone (a test's temporary checkout, a deleted clone): they can name no live run. */
export function pruneRunIndex(indexDir: string): void {
  const ids = existsSync(indexDir) ? readdirSync(indexDir) : [];
  for (const id of ids) {
    const dir = indexedRunDir(indexDir, id);
    if (dir !== undefined && !existsSync(dir)) unindexRun(indexDir, id);
  }
}
