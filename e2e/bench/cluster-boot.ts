/**
 * `make bench-cluster`: how long the local cluster takes from built tools to every pod Ready (3 zones,
 * 3 echo pods per zone plus the control plane), and how much memory the whole cluster then holds.
 * Prints the steps as they run; the LAST line is one JSON object: {bootS, rssMb, pods, …}.
 */
import { resolve } from 'node:path';
import { localClusterDriver } from '@skewless/testbed';
import { NAMESPACE, openClusterSession } from '../src/cluster-session.ts';

const TARGET_BOOT_S = 30;
const repoRoot = resolve(import.meta.dirname, '..', '..');

const began = performance.now();
const session = await openClusterSession({ repoRoot, driver: localClusterDriver() });
try {
  const bootS = Math.round((performance.now() - began) / 100) / 10;
  const pods = await session.core.listNamespacedPod({ namespace: NAMESPACE });
  const ready = pods.items.filter((pod) =>
    pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  // Let start-up garbage settle for a moment, as a steady cluster would.
  await new Promise((r) => setTimeout(r, 2000));
  const memory = await session.cluster.memory?.();
  process.stderr.write(
    `[bench] ${ready.length}/${pods.items.length} pods Ready ${bootS} s after start (target ≤ ${TARGET_BOOT_S} s)\n`,
  );
  if (memory) {
    const parts = Object.entries(memory.byComponentMb).map(([name, mb]) => `${name} ${mb} MB`);
    process.stderr.write(
      `[bench] cluster memory ${memory.rssMb} MB RSS over ${memory.processes} processes: ${parts.join(', ')}\n`,
    );
  }
  const line = {
    bootS,
    rssMb: memory?.rssMb ?? null,
    pods: ready.length,
    podsTotal: pods.items.length,
    zones: session.cluster.zones.length,
    targetBootS: TARGET_BOOT_S,
    steps: session.timings,
    byComponentMb: memory?.byComponentMb ?? {},
    processes: memory?.processes ?? null,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
} finally {
  await session.close();
}
