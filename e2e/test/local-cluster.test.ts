/**
 * The embedded local cluster, end to end (issue #4), as `make test` runs it: a run of `skewless e2e`
 * killed with SIGKILL leaves a whole cluster behind, and the next start clears it; then, on a fresh
 * cluster with the manifests applied: pods report kubelet-like status, the control plane runs in-cluster
 * on its own service-account token, a crashed container restarts, an unknown image is reported, and the
 * quick scenarios of e2e/scenarios pass (smoke, skew-baseline, even-distribution, zone-locality,
 * rolling-restart).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { localClusterDriver } from '@skewless/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterSession, NAMESPACE, openClusterSession } from '../src/cluster-session.ts';
import { scenarioDir } from '../src/e2e-run.ts';
import { readScenarioDir } from '../src/scenario-file.ts';
import { runScenario } from '../src/scenario-runner.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');
let session: ClusterSession;
let crashed: { runId: string; pids: number[] };

/** Starts `skewless e2e`, waits until its cluster is up, then SIGKILLs it: nothing gets torn down. */
async function crashAnE2eRun(): Promise<{ runId: string; pids: number[] }> {
  const child: ChildProcess = spawn(process.execPath, ['cli/src/main.ts', 'e2e', '--scenario', 'smoke'], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const runId = await new Promise<string>((resolveRunId, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the e2e run never booted its cluster:\n${stderr.slice(-3000)}`)),
      150_000,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /local cluster (\w+) ready/.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        resolveRunId(match[1]);
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`e2e exited (${code}) before its cluster was up:\n${stderr.slice(-3000)}`)),
    );
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const { netnsPidsOf } = await leftovers(runId);
  return { runId, pids: netnsPidsOf };
}

async function leftovers(runId: string): Promise<{ netns: string[]; netnsPidsOf: number[] }> {
  const { execFileSync } = await import('node:child_process');
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(`sk-${runId}-`));
  const pids = netns.flatMap((name) =>
    execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number),
  );
  return { netns, netnsPidsOf: pids };
}

beforeAll(async () => {
  crashed = await crashAnE2eRun();
  session = await openClusterSession({
    repoRoot,
    driver: localClusterDriver({ restartBackoff: { baseMs: 500, maxMs: 5000 } }),
  });
}, 400_000);

afterAll(async () => {
  await session?.close();
}, 60_000);

describe('after a SIGKILLed e2e run', () => {
  it('the next start removed its namespaces and stopped every process in them', async () => {
    // The crashed run really left a cluster behind (node agents, kube-proxies, pods)…
    expect(crashed.pids.length).toBeGreaterThan(6);
    // …and the new cluster's first step cleared it.
    const left = await leftovers(crashed.runId);
    expect(left.netns).toEqual([]);
    expect(crashed.pids.filter((pid) => existsSync(`/proc/${pid}`))).toEqual([]);
    expect(existsSync(resolve(repoRoot, '.cluster', `local-${crashed.runId}`))).toBe(false);
  });
});

describe('the local cluster', () => {
  it('spreads the echo pods 3/3/3 over the zones, each reporting status the way a kubelet does', async () => {
    const pods = await session.core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app=echo' });
    expect(pods.items).toHaveLength(9);
    const perZone = new Map<string, number>();
    for (const pod of pods.items) {
      const zone = pod.metadata?.labels?.['topology.kubernetes.io/zone'] ?? '';
      perZone.set(zone, (perZone.get(zone) ?? 0) + 1);
      expect(pod.status?.phase).toBe('Running');
      expect(pod.status?.podIP).toMatch(/^10\.244\.\d+\.\d+$/);
      expect(pod.status?.hostIP).toMatch(/^172\.31\.0\.\d+$/);
      const conditions = Object.fromEntries((pod.status?.conditions ?? []).map((c) => [c.type, c.status]));
      expect(conditions).toMatchObject({
        PodScheduled: 'True',
        Initialized: 'True',
        ContainersReady: 'True',
        Ready: 'True',
      });
      const container = pod.status?.containerStatuses?.[0];
      expect(container).toMatchObject({ name: 'echo', ready: true, started: true, restartCount: 0 });
      expect(container?.state?.running?.startedAt).toBeDefined();
      // The pod's zone came from its node, through PodTopologyLabels, into the backend's replies.
      expect(zone).toBe(`zone-${pod.spec?.nodeName?.slice(-1)}`);
    }
    expect(Object.fromEntries(perZone)).toEqual({ 'zone-a': 3, 'zone-b': 3, 'zone-c': 3 });
  });

  it('runs the control plane in-cluster: it lists through RBAC with its own bound service-account token', async () => {
    const [pod] = (
      await session.core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app=skewless-control-plane' })
    ).items;
    expect(pod?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(pod?.spec?.volumes?.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken))).toBe(true);
    const log = await session.cluster.podLogs(NAMESPACE, pod?.metadata?.name ?? '', 'control-plane');
    expect(log).toContain('first complete state published');
  });

  it('restarts a container whose process is killed, counting the restart and its exit code', async () => {
    const pods = await session.core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app=echo' });
    const victim = pods.items[0] as V1Pod;
    const pid = Number(victim.status?.containerStatuses?.[0]?.containerID?.split('://')[1]);
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, 'SIGKILL');
    const restarted = await waitForPod(victim.metadata?.name ?? '', (pod) => {
      const status = pod.status?.containerStatuses?.[0];
      return (status?.restartCount ?? 0) >= 1 && status?.ready === true;
    });
    const status = restarted.status?.containerStatuses?.[0];
    expect(status?.lastState?.terminated).toMatchObject({ exitCode: 137, reason: 'Error' });
    expect(Number(status?.containerID?.split('://')[1])).not.toBe(pid);
    await session.waitDeploymentReady('echo', 60_000);
  });

  it('reports an image missing from the image table as ErrImagePull, naming the known images', async () => {
    await session.core.createNamespacedPod({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'unknown-image' },
        spec: { containers: [{ name: 'web', image: 'nginx:1.27' }], automountServiceAccountToken: false },
      },
    });
    try {
      const pod = await waitForPod(
        'unknown-image',
        (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull',
      );
      expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.message).toMatch(
        /"nginx:1.27" is not in the local node agent's image table \(known: skewless\/backend/,
      );
      expect(pod.status?.phase).toBe('Pending');
    } finally {
      await session.core.deleteNamespacedPod({ name: 'unknown-image', namespace: NAMESPACE, gracePeriodSeconds: 0 });
    }
  });

  it('starts a pod whose Secret is created after it, as a kubelet retries CreateContainerConfigError', async () => {
    const secret = 'created-later';
    await session.core.createNamespacedPod({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'waits-for-secret' },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
          volumes: [{ name: 'cert', secret: { secretName: secret } }],
          containers: [
            {
              name: 'reader',
              image: 'skewless/backend:dev',
              command: ['sh', '-c', 'cat /var/run/cert/token; exec sleep 600'],
              volumeMounts: [{ name: 'cert', mountPath: '/var/run/cert' }],
              env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: secret, key: 'token' } } }],
            },
          ],
        },
      },
    });
    try {
      const waiting = await waitForPod(
        'waits-for-secret',
        (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError',
      );
      expect(waiting.status?.containerStatuses?.[0]?.state?.waiting?.message).toMatch(
        /volumes\[cert\]: secret "created-later" not found/,
      );
      await session.core.createNamespacedSecret({
        namespace: NAMESPACE,
        body: { metadata: { name: secret }, stringData: { token: 'from-the-secret' } },
      });
      // The retry back-off is at most 10 s; a kubelet's re-sync is slower, not faster.
      const running = await waitForPod(
        'waits-for-secret',
        (p) => p.status?.containerStatuses?.[0]?.state?.running !== undefined && p.status?.phase === 'Running',
        30_000,
      );
      expect(running.status?.phase).toBe('Running');
      expect(running.status?.containerStatuses?.[0]?.restartCount).toBe(0);
      let log = '';
      for (let i = 0; i < 50 && !log.includes('from-the-secret'); i++) {
        log = await session.core.readNamespacedPodLog({ name: 'waits-for-secret', namespace: NAMESPACE });
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(log).toContain('from-the-secret');
    } finally {
      await session.core.deleteNamespacedPod({ name: 'waits-for-secret', namespace: NAMESPACE, gracePeriodSeconds: 0 });
      await session.core.deleteNamespacedSecret({ name: secret, namespace: NAMESPACE }).catch(() => undefined);
    }
  });

  it('SIGKILLs a container that ignores SIGTERM once its grace period is over, then deletes the pod', async () => {
    await session.core.createNamespacedPod({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'ignores-sigterm' },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 2,
          // The image table maps the image; `command` replaces its entrypoint, as in any cluster.
          containers: [
            {
              name: 'stubborn',
              image: 'skewless/backend:dev',
              command: ['sh', '-c', 'trap "" TERM; while true; do sleep 0.2; done'],
            },
          ],
        },
      },
    });
    const running = await waitForPod(
      'ignores-sigterm',
      (p) => p.status?.containerStatuses?.[0]?.state?.running !== undefined,
    );
    const pid = Number(running.status?.containerStatuses?.[0]?.containerID?.split('://')[1]);
    const began = performance.now();
    await session.core.deleteNamespacedPod({ name: 'ignores-sigterm', namespace: NAMESPACE });
    // Still there during the grace period (SIGTERM ignored)…
    await new Promise((r) => setTimeout(r, 1000));
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    // …then killed, and the pod object removed by the agent's final delete.
    for (;;) {
      const gone = await session.core.readNamespacedPod({ name: 'ignores-sigterm', namespace: NAMESPACE }).then(
        () => false,
        () => true,
      );
      if (gone) break;
      if (performance.now() - began > 30_000) throw new Error('pod not deleted 30 s after its 2 s grace period');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(performance.now() - began).toBeGreaterThanOrEqual(2000);
  });

  // The quick subset (`quick: true` in e2e/scenarios/*.yaml); `make e2e` runs them all.
  for (const scenario of readScenarioDir(scenarioDir(repoRoot)).filter((s) => s.quick)) {
    it(`scenario ${scenario.name}: ${scenario.description}`, async () => {
      const result = await runScenario(session, scenario);
      const failed = result.assertions.filter((a) => !a.passed);
      expect(failed.map((a) => `${a.name}: ${a.value} (want ${a.threshold})`)).toEqual([]);
      expect(result.totals.requests).toBeGreaterThan(0);
    }, 300_000);
  }
});

async function waitForPod(name: string, done: (pod: V1Pod) => boolean, timeoutMs = 60_000): Promise<V1Pod> {
  const began = performance.now();
  for (;;) {
    const pod = await session.core.readNamespacedPod({ name, namespace: NAMESPACE });
    if (done(pod)) return pod;
    if (performance.now() - began > timeoutMs)
      throw new Error(`pod ${name} never reached the state: ${JSON.stringify(pod.status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
