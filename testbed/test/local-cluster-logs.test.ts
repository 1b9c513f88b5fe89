/**
 * `kubectl logs` on the local cluster, the way it goes on any cluster: the API server looks up the pod's
 * node, dials its InternalIP:10250 (here through its egress proxy into the cluster network) with its
 * kubelet client certificate, and streams what the node agent's kubelet API serves. One cluster boot
 * (two zones) for the whole file; pods are pinned to each node so both paths are used.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { createLogger } from '@skewless/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolPath } from '../src/apiserver/tool-path.ts';
import type { StartedCluster } from '../src/cluster/driver.ts';
import { localClusterDriver } from '../src/cluster/local-cluster.ts';

const run = promisify(execFile);
const logger = createLogger('local-cluster-logs-test', process.env.SKEWLESS_LOG_LEVEL ?? 'warn');
const NAMESPACE = 'logs';
const LINES = ['alpha one', 'bravo two', 'charlie three', 'delta four'];

let cluster: StartedCluster;
let core: CoreV1Api;

/** A pod whose one container runs `script` with sh (the curl image stands in for any image with a shell). */
function shellPod(name: string, nodeName: string, script: string, restartPolicy = 'Never'): V1Pod {
  return {
    metadata: { name, namespace: NAMESPACE },
    spec: {
      nodeName,
      restartPolicy,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: 'curlimages/curl', command: ['sh', '-c', script] }],
    },
  };
}

async function waitForPod(name: string, done: (pod: V1Pod) => boolean, what: string): Promise<V1Pod> {
  const began = performance.now();
  for (;;) {
    const pod = await core.readNamespacedPod({ name, namespace: NAMESPACE });
    if (done(pod)) return pod;
    if (performance.now() - began > 30_000) {
      throw new Error(`pod ${name} not ${what} after 30 s: ${JSON.stringify(pod.status?.containerStatuses)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function kubectl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(toolPath('kubectl'), ['--kubeconfig', cluster.kubeconfigPath, ...args]);
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const { stdout = '', stderr = '', code = -1 } = error as { stdout?: string; stderr?: string; code?: number };
    return { stdout, stderr, code };
  }
}

beforeAll(async () => {
  cluster = await localClusterDriver({ logger, progress: false, restartBackoff: { baseMs: 300, maxMs: 3000 } })
    .configure({ zones: ['zone-a', 'zone-b'], region: 'local', keepOnFailure: false })
    .start();
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  const script = LINES.map((line) => `echo '${line}'`).join('; ');
  for (const node of ['local-zone-a', 'local-zone-b']) {
    await core.createNamespacedPod({ namespace: NAMESPACE, body: shellPod(`printer-${node}`, node, script) });
  }
  for (const node of ['local-zone-a', 'local-zone-b']) {
    await waitForPod(`printer-${node}`, (pod) => pod.status?.phase === 'Succeeded', 'succeeded');
  }
}, 180_000);

afterAll(async () => {
  await cluster?.delete();
}, 60_000);

describe('the Node objects', () => {
  it('report an InternalIP on the underlay and the kubelet port', async () => {
    for (const name of ['local-zone-a', 'local-zone-b']) {
      const node = await core.readNode({ name });
      expect(node.status?.addresses).toContainEqual({
        type: 'InternalIP',
        address: expect.stringMatching(/^172\.31\.0\.\d+$/),
      });
      expect(node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(10250);
    }
  });
});

describe('CoreV1Api.readNamespacedPodLog', () => {
  it('returns what the container printed, from each node', async () => {
    for (const node of ['local-zone-a', 'local-zone-b']) {
      const log = await core.readNamespacedPodLog({ name: `printer-${node}`, namespace: NAMESPACE, container: 'main' });
      expect(log).toBe(`${LINES.join('\n')}\n`);
    }
  });

  it('keeps the last tailLines lines and at most limitBytes bytes', async () => {
    const name = 'printer-local-zone-a';
    expect(await core.readNamespacedPodLog({ name, namespace: NAMESPACE, tailLines: 2 })).toBe(
      `${LINES.slice(-2).join('\n')}\n`,
    );
    expect(await core.readNamespacedPodLog({ name, namespace: NAMESPACE, limitBytes: 5 })).toBe('alpha');
  });

  it('rejects an unknown container with a message naming it', async () => {
    const error = await core
      .readNamespacedPodLog({ name: 'printer-local-zone-b', namespace: NAMESPACE, container: 'nope' })
      .then(
        () => undefined,
        (e: { code?: number; body?: string }) => e,
      );
    expect(error?.code).toBe(400);
    expect(JSON.parse(error?.body ?? '{}').message).toMatch(/container nope is not valid for pod printer-local-zone-b/);
  });

  it('serves the previous attempt of a restarted container apart from the current one', async () => {
    await core.createNamespacedPod({
      namespace: NAMESPACE,
      body: shellPod('restarter', 'local-zone-b', 'echo "attempt $(date +%s%N)"; exit 1', 'Always'),
    });
    await waitForPod('restarter', (pod) => (pod.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 'restarted');
    const previous = await core.readNamespacedPodLog({ name: 'restarter', namespace: NAMESPACE, previous: true });
    const current = await core.readNamespacedPodLog({ name: 'restarter', namespace: NAMESPACE });
    expect(previous).toMatch(/^attempt \d+\n$/);
    expect(current).toMatch(/^attempt \d+\n$/);
    expect(current).not.toBe(previous);
  });
});

describe('kubectl logs', () => {
  it('prints the lines, all or the last one', async () => {
    const all = await kubectl('logs', '-n', NAMESPACE, 'printer-local-zone-b');
    expect(all).toMatchObject({ code: 0, stdout: `${LINES.join('\n')}\n` });
    const tail = await kubectl('logs', '-n', NAMESPACE, 'printer-local-zone-a', '--tail=1');
    expect(tail).toMatchObject({ code: 0, stdout: `${LINES.at(-1)}\n` });
  });

  it('follows a running container until it exits', async () => {
    await core.createNamespacedPod({
      namespace: NAMESPACE,
      body: shellPod('talker', 'local-zone-a', 'echo first; sleep 1; echo second; sleep 1; echo third'),
    });
    await waitForPod('talker', (pod) => pod.status?.containerStatuses?.[0]?.state?.running !== undefined, 'running');
    const followed = await kubectl('logs', '-n', NAMESPACE, 'talker', '--follow');
    expect(followed).toMatchObject({ code: 0, stdout: 'first\nsecond\nthird\n' });
  });

  it('fails clearly for an unknown container and for an option the node agent does not support', async () => {
    const unknown = await kubectl('logs', '-n', NAMESPACE, 'printer-local-zone-a', '-c', 'nope');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('container nope is not valid for pod printer-local-zone-a');
    const stamped = await kubectl('logs', '-n', NAMESPACE, 'printer-local-zone-a', '--timestamps');
    expect(stamped.code).not.toBe(0);
    expect(stamped.stderr).toContain('timestamps=true: not supported');
  });
});
