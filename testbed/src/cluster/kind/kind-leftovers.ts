/**
 * kind clusters a crashed or killed run left behind, cleared at the start of the next one. Each run
 * records its cluster name and owner PID in `<parent>/kind-<run>/cluster.json` before it asks kind for
 * the cluster; the sweep deletes every `skewless-<run>` cluster of this Docker engine whose owner is dead
 * (and which was not kept on purpose), or which has no record at all (made by a run whose dir is gone).
 * Live runs — a parallel test file, another terminal, another checkout using the same engine (found
 * through the machine-wide kind run index) — are left alone.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@skewless/shared';
import { isAlive } from '../../apiserver/leftovers.ts';
import { indexedRunIsLive, pruneRunIndex, unindexRun } from '../run-index.ts';
import type { KindCli } from './kind-cli.ts';

export const KIND_DIR_PREFIX = 'kind-';
export const KIND_CLUSTER_PREFIX = 'skewless-';
const OURS = /^skewless-[0-9a-f]{6}$/;
const RECORD = 'cluster.json';
/** Cluster name → run dir, for every kind run on this machine whatever its checkout (see run-index.ts). */
export const KIND_RUN_INDEX_DIR = '/run/skewless/kind-clusters';

export interface KindRecord {
  readonly name: string;
  readonly ownerPid: number;
  /** Set by `keep` (cluster-up) or keepOnFailure: the cluster outlives its owner until removed by hand. */
  kept: boolean;
  readonly dockerHost: string | undefined;
}

export function writeKindRecord(dir: string, record: KindRecord): void {
  writeFileSync(join(dir, RECORD), `${JSON.stringify(record, null, 2)}\n`);
}

export function readKindRecord(dir: string): KindRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, RECORD), 'utf8')) as KindRecord;
  } catch {
    return undefined;
  }
}

export interface KindSweepOptions {
  /** Also delete kept clusters (`make cluster-down`). */
  readonly includeKept: boolean;
  /** The machine-wide run index (default KIND_RUN_INDEX_DIR; tests give their own). */
  readonly indexDir?: string;
}

/** Returns the cluster names it deleted. */
export async function sweepKindClusters(
  parent: string,
  cli: KindCli,
  logger: Logger,
  options: KindSweepOptions,
): Promise<string[]> {
  const indexDir = options.indexDir ?? KIND_RUN_INDEX_DIR;
  pruneRunIndex(indexDir);
  const existing = new Set((await cli.getClusters()).filter((name) => OURS.test(name)));
  const live = new Set<string>();
  const deleted: string[] = [];
  const dirs = existsSync(parent)
    ? readdirSync(parent, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && entry.name.startsWith(KIND_DIR_PREFIX))
        .map((entry) => entry.name)
    : [];
  for (const dirName of dirs) {
    const dir = join(parent, dirName);
    const record = readKindRecord(dir);
    const name = record?.name ?? `${KIND_CLUSTER_PREFIX}${dirName.slice(KIND_DIR_PREFIX.length)}`;
    const ownerAlive = record !== undefined && isAlive(record.ownerPid);
    if ((ownerAlive && !record?.kept) || (record?.kept && !options.includeKept)) {
      live.add(name);
      continue;
    }
    // A record for another engine: its cluster is not ours to look for here; the dir stays for that engine.
    if (record && (record.dockerHost ?? '') !== (cli.env.DOCKER_HOST ?? '')) {
      live.add(name);
      continue;
    }
    if (existing.has(name)) {
      await deleteKindCluster(cli, name, join(dir, 'kubeconfig'), logger);
      deleted.push(name);
    }
    rmSync(dir, { recursive: true, force: true });
    unindexRun(indexDir, name);
  }
  const orphans = [...existing].filter(
    (name) => !live.has(name) && !deleted.includes(name) && !indexedRunIsLive(indexDir, name, readKindRecord),
  );
  if (orphans.length > 0) {
    // No kubeconfig of theirs is left: give kind a scratch one, never the user's ~/.kube/config.
    const scratch = mkdtempSync(join(tmpdir(), 'skewless-kind-sweep-'));
    try {
      for (const name of orphans) {
        await deleteKindCluster(cli, name, join(scratch, 'kubeconfig'), logger);
        deleted.push(name);
        unindexRun(indexDir, name);
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return deleted;
}

async function deleteKindCluster(cli: KindCli, name: string, kubeconfig: string, logger: Logger): Promise<void> {
  logger.warn({ cluster: name }, 'deleting a kind cluster left by a crashed run');
  await cli.kindOk(['delete', 'cluster', '--name', name, '--kubeconfig', kubeconfig]);
}
