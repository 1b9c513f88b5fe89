/**
 * The local cluster's leftover sweep on real network namespaces: a crashed run's namespaces go, another
 * checkout's live cluster (found through the machine-wide run index) stays. The sweep runs as it does at
 * every cluster start, with the real index, so live clusters elsewhere on the machine stay protected.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@skewless/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClusterRecord, indexRun, RUN_INDEX_DIR, sweepClusters } from '../src/cluster/cluster-leftovers.ts';
import { ip, listNetns, NETNS_PREFIX } from '../src/cluster/netns.ts';

const logger = createLogger('leftovers-test', 'silent');
const made: string[] = [];

afterEach(async () => {
  for (const path of made.splice(0)) {
    if (path.startsWith(NETNS_PREFIX)) {
      await ip(['netns', 'del', path]).catch(() => undefined);
      rmSync(join(RUN_INDEX_DIR, path.slice(NETNS_PREFIX.length).split('-')[0] ?? ''), { force: true });
    } else rmSync(path, { recursive: true, force: true });
  }
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-leftovers-'));
  made.push(dir);
  return dir;
}

/** A run of another checkout: its dir under `parent`, its record, a namespace named like a node's. */
async function otherCheckoutRun(parent: string, ownerPid: number): Promise<{ runId: string; netns: string }> {
  const runId = randomBytes(3).toString('hex');
  const dir = join(parent, `local-${runId}`);
  mkdirSync(dir, { recursive: true });
  const record: ClusterRecord = { runId, ownerPid, kept: false, groups: [] };
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify(record));
  const netns = `${NETNS_PREFIX}${runId}-n1`;
  await ip(['netns', 'add', netns]);
  made.push(netns);
  return { runId, netns };
}

/** A pid that has been used and is no longer alive. */
function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

describe('sweepClusters', () => {
  it("leaves another checkout's live cluster alone when the run index names its dir", async () => {
    const [mine, theirs] = [scratch(), scratch()];
    const run = await otherCheckoutRun(theirs, process.pid);
    indexRun(run.runId, join(theirs, `local-${run.runId}`));

    expect(await sweepClusters(mine, logger, { includeKept: false })).toEqual([]);
    expect(await listNetns(`${NETNS_PREFIX}${run.runId}-`)).toEqual([run.netns]);
  });

  it('removes the namespaces of a run whose owner died, wherever its dir is', async () => {
    const [mine, theirs] = [scratch(), scratch()];
    const run = await otherCheckoutRun(theirs, deadPid());
    indexRun(run.runId, join(theirs, `local-${run.runId}`));

    await sweepClusters(mine, logger, { includeKept: false });
    expect(await listNetns(`${NETNS_PREFIX}${run.runId}-`)).toEqual([]);
  });

  it('removes namespaces no run dir and no index entry account for', async () => {
    const [mine, theirs] = [scratch(), scratch()];
    const run = await otherCheckoutRun(theirs, process.pid);

    await sweepClusters(mine, logger, { includeKept: false });
    expect(await listNetns(`${NETNS_PREFIX}${run.runId}-`)).toEqual([]);
  });
});
