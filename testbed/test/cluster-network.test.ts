/**
 * The local cluster's network on real namespaces, veths and bridges: a node's pod bridge keeps one
 * MAC while pods come and go, so the gateway entry in every other pod's ARP table stays right. The
 * run is indexed with this process as owner, so a cluster starting elsewhere meanwhile spares it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterRecord, indexRun, RUN_INDEX_DIR } from '../src/cluster/cluster-leftovers.ts';
import {
  bridgeMac,
  type ClusterNetwork,
  createClusterNetwork,
  netnsPrefix,
  planClusterNetwork,
} from '../src/cluster/cluster-network.ts';
import { destroyNetns, ip, listNetns } from '../src/cluster/netns.ts';
import { createPodNetwork, deletePodNetwork, type PodNetworkPlan } from '../src/node-agent/pod-network.ts';

const runId = randomBytes(3).toString('hex');
const runDir = mkdtempSync(join(tmpdir(), 'skewless-network-'));
let network: ClusterNetwork;

beforeAll(async () => {
  const record: ClusterRecord = { runId, ownerPid: process.pid, kept: false, groups: [] };
  writeFileSync(join(runDir, 'cluster.json'), JSON.stringify(record));
  indexRun(runId, runDir);
  network = planClusterNetwork(runId, ['node-a', 'node-b']);
  await createClusterNetwork(network);
});

afterAll(async () => {
  for (const netns of await listNetns(netnsPrefix(runId))) await destroyNetns(netns);
  rmSync(join(RUN_INDEX_DIR, runId), { force: true });
  rmSync(runDir, { recursive: true, force: true });
});

async function macOf(netns: string, device: string): Promise<string> {
  const [link] = JSON.parse(await ip(['-n', netns, '-j', 'link', 'show', device])) as { address: string }[];
  return link?.address ?? '';
}

function podPlan(id: string, host: number): PodNetworkPlan {
  const node = network.nodes[0]!;
  return {
    nodeNetns: node.netns,
    podNetns: `${netnsPrefix(runId)}p${id}`,
    hostInterface: `v${runId}${id}`,
    ip: `10.244.1.${host}`,
    gateway: node.gateway,
  };
}

describe('cluster network', () => {
  it('derives bridge MACs from their IPv4 addresses the way the CNI bridge plugin does', () => {
    expect(bridgeMac('10.244.1.1')).toBe('0a:58:0a:f4:01:01');
    expect(bridgeMac('172.31.0.1')).toBe('0a:58:ac:1f:00:01');
    expect(() => bridgeMac('10.244.1')).toThrow(/IPv4, got 10\.244\.1/);
    expect(() => bridgeMac('10.244.1.256')).toThrow(/IPv4/);
  });

  it("keeps a node bridge's MAC while pods join and leave", async () => {
    const node = network.nodes[0]!;
    const expected = bridgeMac(node.gateway);
    expect(await macOf(node.netns, 'cbr0')).toBe(expected);
    expect(await macOf(network.underlayNetns, 'br0')).toBe(bridgeMac('172.31.0.1'));

    // An unset bridge MAC follows its lowest port, so adding ports and then removing the one that
    // lent its MAC would change it; one of these pods always holds the lowest of the four.
    const pods = ['a1', 'a2', 'a3', 'a4'].map((id, i) => podPlan(id, 10 + i));
    for (const pod of pods) {
      await createPodNetwork(pod);
      expect(await macOf(node.netns, 'cbr0')).toBe(expected);
    }
    const lowestFirst = await Promise.all(
      pods.map(async (pod) => ({ pod, mac: await macOf(node.netns, pod.hostInterface) })),
    );
    lowestFirst.sort((a, b) => a.mac.localeCompare(b.mac));
    for (const { pod } of lowestFirst) {
      await deletePodNetwork(pod);
      expect(await macOf(node.netns, 'cbr0')).toBe(expected);
    }
  });
});
