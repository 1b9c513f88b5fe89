/**
 * Clears what a crashed or killed run of the local cluster left behind, at the start of the next one:
 * every cluster dir whose owner process is dead (and which was not kept on purpose with
 * `make cluster-up`) loses its recorded process groups, its network namespaces (with every process
 * still inside them: only ours can be there) and the dir itself. Namespaces named like ours whose run
 * dir is gone are removed too. Live runs — a parallel test file, or another checkout's cluster on the same
 * machine (found through the machine-wide run index) — are left alone.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@skewless/shared';
import { isAlive, killRecordedGroups, sweepLeftovers } from '../apiserver/leftovers.ts';
import { destroyNetns, listNetns, NETNS_PREFIX } from './netns.ts';
import { indexedRunIsLive, indexRunDir, unindexRun } from './run-index.ts';

export const CLUSTER_DIR_PREFIX = 'local-';
const RECORD = 'cluster.json';

export interface ClusterRecord {
  runId: string;
  ownerPid: number;
  /** Set by `cluster-up`: the cluster outlives the process that made it, until `cluster-down`. */
  kept: boolean;
  groups: { pid: number; exe: string }[];
  socket?: string;
}

export function readClusterRecord(dir: string): ClusterRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, RECORD), 'utf8')) as ClusterRecord;
  } catch {
    return undefined;
  }
}

export function clusterRecordPath(dir: string): string {
  return join(dir, RECORD);
}

/**
 * Network namespaces are machine-wide but run dirs live in each checkout: this index (on tmpfs, cleared by
 * a reboot as the namespaces are) maps a run id to its dir, so a sweep can tell another checkout's live
 * cluster from a crashed run's leftovers.
 */
export const RUN_INDEX_DIR = '/run/skewless/local-clusters';

/** Records where run `runId` keeps its dir (idempotent). */
export function indexRun(runId: string, dir: string): void {
  indexRunDir(RUN_INDEX_DIR, runId, dir);
}

export interface SweepOptions {
  /** Also remove kept clusters (`make cluster-down`). */
  readonly includeKept: boolean;
}

/** Returns the run ids it removed. */
export async function sweepClusters(parent: string, logger: Logger, options: SweepOptions): Promise<string[]> {
  const removed: string[] = [];
  const liveRunIds = new Set<string>();
  const names = existsSync(parent) ? readdirSync(parent).filter((name) => name.startsWith(CLUSTER_DIR_PREFIX)) : [];
  for (const name of names) {
    const dir = join(parent, name);
    const record = readClusterRecord(dir);
    const runId = record?.runId ?? name.slice(CLUSTER_DIR_PREFIX.length);
    const ownerAlive = record !== undefined && isAlive(record.ownerPid);
    if ((ownerAlive && !record?.kept) || (record?.kept && !options.includeKept)) {
      liveRunIds.add(runId);
      continue;
    }
    await destroyCluster(dir, runId, record, logger);
    removed.push(runId);
  }
  // Namespaces whose run dir is gone (a crash between creating them and writing the record) — unless
  // they belong to a live run of another checkout.
  for (const netns of await listNetns(NETNS_PREFIX).catch(() => [])) {
    const runId = netns.slice(NETNS_PREFIX.length).split('-')[0] ?? '';
    if (liveRunIds.has(runId) || indexedRunIsLive(RUN_INDEX_DIR, runId, readClusterRecord)) continue;
    logger.warn({ netns }, 'removing a network namespace left by a crashed run');
    await destroyNetns(netns);
  }
  return removed;
}

/** Stops every process the cluster started and removes its namespaces and dir. */
export async function destroyCluster(
  dir: string,
  runId: string,
  record: ClusterRecord | undefined,
  logger: Logger,
): Promise<void> {
  killRecordedGroups(record?.groups ?? [], logger, { runId });
  // etcd and kube-apiserver keep their own record in the API server's dir inside ours.
  sweepLeftovers(dir, 'skewless-apiserver-', logger);
  for (const netns of await listNetns(`${NETNS_PREFIX}${runId}-`).catch(() => [])) await destroyNetns(netns);
  if (record?.socket) rmSync(record.socket, { force: true });
  rmSync(dir, { recursive: true, force: true });
  unindexRun(RUN_INDEX_DIR, runId);
  logger.info({ runId }, 'removed a local cluster left by a previous run');
}
