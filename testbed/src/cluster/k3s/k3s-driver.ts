/**
 * The `k3s` cluster driver: k3s in Docker containers through testcontainers — a server
 * (`@testcontainers/k3s`'s `K3sContainer`) and one or more agents per zone joined to it over the run's
 * own Docker network, each agent labelled with its zone and region (k3s-nodes.ts says why the server
 * is tainted). Images reach the nodes by `docker save` + `ctr images import` (k3s-images.ts).
 *
 * Creation is an ordered list of steps; the first one that creates anything runs only once the image is
 * known to be there, so a machine without the image fails with `image rancher/k3s:<tag> not available:
 * <reason>` and nothing to undo. After that every container and the network carry the run's labels, and
 * a failure removes all of them by label (a container whose start failed has no handle to stop it by),
 * unless the spec asks to keep them. The started handle is AsyncDisposable; Node 22 has no `await using`
 * syntax yet, so callers use try/finally around `delete()`.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createLogger, type Logger } from '@skewless/shared';
import { K3sContainer } from '@testcontainers/k3s';
import { GenericContainer, Wait } from 'testcontainers';
import { logTail } from '../../apiserver/log-tail.ts';
import type { ClusterDriver, ClusterSpec, ConfiguredCluster, StartedCluster } from '../driver.ts';
import { timed } from '../driver.ts';
import { defaultClusterParent } from '../local-cluster.ts';
import {
  dockerEngine,
  ensureImage,
  markKept,
  RUN_DIR_PREFIX,
  removeLabelled,
  sweepK3sClusters,
  writeRunRecord,
} from './k3s-docker.ts';
import { importImages } from './k3s-images.ts';
import {
  DRIVER_LABEL_VALUE,
  type K3sClusterPlan,
  type K3sNodePlan,
  LABEL_DRIVER,
  LABEL_RUN,
  planK3sCluster,
  runLabels,
} from './k3s-nodes.ts';
import { type K3sClusterOptions, type K3sConfig, k3sConfig } from './k3s-options.ts';

/** Logged by flannel in every k3s node once it runs: what `K3sContainer` itself waits for. */
const READY_LOG = 'Node controller sync successful';

export interface ConfiguredK3sCluster extends ConfiguredCluster {
  readonly config: K3sConfig;
  /** The containers start() will create, their command lines and labels. */
  readonly plan: K3sClusterPlan;
  start(): Promise<StartedK3sCluster>;
}

export interface StartedK3sCluster extends StartedCluster, AsyncDisposable {
  readonly runId: string;
  /** kubeconfig and the nodes' logs while the cluster runs; removed by delete(). */
  readonly runDir: string;
  readonly nodes: readonly { name: string; zone?: string; containerName: string }[];
}

export interface K3sClusterDriver extends ClusterDriver {
  configure(spec: ClusterSpec): ConfiguredK3sCluster;
}

export function k3sClusterDriver(options: K3sClusterOptions = {}): K3sClusterDriver {
  return {
    kind: 'k3s',
    configure(spec: ClusterSpec): ConfiguredK3sCluster {
      const config = k3sConfig(options, spec, defaultClusterParent());
      const plan = planK3sCluster({
        runId: randomBytes(3).toString('hex'),
        zones: config.zones,
        region: config.region,
        agentsPerZone: config.agentsPerZone,
        token: randomBytes(16).toString('hex'),
        ownerPid: process.pid,
      });
      const steps = [
        'clear leftovers',
        `image ${config.image}`,
        `network ${plan.networkName}`,
        'k3s server',
        `agents (${plan.agents.length}): ${config.zones.map((z) => `${z} ×${config.agentsPerZone}`).join(', ')}`,
        'nodes Ready',
      ];
      let started = false;
      return {
        kind: 'k3s',
        steps,
        config,
        plan,
        start() {
          if (started) return Promise.reject(new Error('k3s cluster: start() runs once per configure()'));
          started = true;
          return startK3sCluster(config, plan, steps, options.logger ?? createLogger('k3s-cluster'));
        },
      };
    },
  };
}

async function startK3sCluster(
  config: K3sConfig,
  plan: K3sClusterPlan,
  steps: readonly string[],
  logger: Logger,
): Promise<StartedK3sCluster> {
  const quiet = !config.progress;
  const timings: Record<string, number> = {};
  const began = performance.now();
  const step = <T>(index: number, run: () => Promise<T>) => timed(steps[index] ?? `step ${index}`, run, timings, quiet);

  const docker = await dockerEngine();
  await step(0, () => sweepK3sClusters(docker, config.parentDir, logger, { includeKept: false }));
  await step(1, () => ensureImage(docker, config.image, config.pull));

  // From here on everything created is labelled with the run, and removed by that label.
  const runDir = join(config.parentDir, `${RUN_DIR_PREFIX}${plan.runId}`);
  const logDir = join(runDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  writeRunRecord(runDir, { runId: plan.runId, ownerPid: process.pid });
  const runSelector = { [LABEL_DRIVER]: DRIVER_LABEL_VALUE, [LABEL_RUN]: plan.runId };
  let deleting: Promise<void> | undefined;
  const teardown = () => {
    deleting ??= (async () => {
      const stopBegan = performance.now();
      await removeLabelled(docker, runSelector);
      rmSync(runDir, { recursive: true, force: true });
      if (!quiet) {
        const seconds = (performance.now() - stopBegan) / 1000;
        process.stderr.write(`[cluster] ✓ deleted k3s ${plan.runId} in ${seconds.toFixed(1)} s\n`);
      }
    })();
    return deleting;
  };

  try {
    await step(2, () =>
      docker.createNetwork({
        Name: plan.networkName,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: runLabels(plan.runId, process.pid),
      }),
    );
    const server = await step(3, () => startNode(new K3sContainer(config.image), plan.server, plan, config, logDir));
    const kubeconfigPath = join(runDir, 'kubeconfig');
    writeFileSync(kubeconfigPath, server.getKubeConfig(), { mode: 0o600 });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);

    const agents = await step(4, async () => {
      // allSettled, not all: teardown after a failure must not race agents still being created.
      const settled = await Promise.allSettled(
        plan.agents.map(async (agent) => ({
          agent,
          container: await startNode(
            new GenericContainer(config.image)
              .withPrivilegedMode()
              .withTmpFs({ '/run': 'rw', '/var/run': 'rw' })
              .withWaitStrategy(Wait.forLogMessage(READY_LOG)),
            agent,
            plan,
            config,
            logDir,
          ),
        })),
      );
      const failed = settled.filter((r) => r.status === 'rejected').map((r) => (r.reason as Error).message);
      if (failed.length > 0) throw new Error(failed.join('\n'));
      return settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    });
    const nodeNames = [plan.server.name, ...plan.agents.map((a) => a.name)];
    await step(5, () => waitNodesReady(kubeConfig, nodeNames, config.nodesReadyTimeoutMs, logger, quiet));
    if (config.keep) markKept(runDir);
    timings.total = Math.round((performance.now() - began) / 100) / 10;
    if (!quiet) {
      process.stderr.write(
        `[cluster] k3s cluster ${plan.runId} ready in ${timings.total.toFixed(1)} s — export KUBECONFIG=${kubeconfigPath}\n`,
      );
    }
    const core = kubeConfig.makeApiClient(CoreV1Api);
    return {
      kind: 'k3s',
      name: `k3s-${plan.runId}`,
      runId: plan.runId,
      runDir,
      zones: config.zones,
      kubeconfigPath,
      kubeConfig,
      timings,
      nodes: [plan.server, ...plan.agents].map((n) => ({
        name: n.name,
        ...(n.zone ? { zone: n.zone } : {}),
        containerName: n.containerName,
      })),
      async loadImages(images) {
        const outcome = await timed(
          `load ${images.length} images into ${agents.length} agents`,
          () =>
            importImages(
              docker,
              images,
              agents.map((a) => ({ name: a.agent.name, container: a.container })),
              runDir,
            ),
          timings,
          quiet,
        );
        if (outcome.leftToPull.length > 0 && !quiet) {
          process.stderr.write(
            `[cluster] not in the Docker engine, left for the nodes to pull: ${outcome.leftToPull.join(', ')}\n`,
          );
        }
      },
      async podLogs(namespace, pod, container) {
        return core.readNamespacedPodLog({ name: pod, namespace, container });
      },
      collectLogs: (dir) => collectLogs(dir, logDir, core),
      delete: teardown,
      [Symbol.asyncDispose]: teardown,
    };
  } catch (error) {
    if (config.keepOnFailure) {
      markKept(runDir);
      process.stderr.write(
        `[cluster] kept after the failure for debugging: k3s ${plan.runId} (containers labelled ${LABEL_RUN}=${plan.runId}, files in ${runDir})\n`,
      );
    } else {
      await teardown().catch((cleanupError: Error) =>
        logger.error({ err: cleanupError.message, run: plan.runId }, 'k3s teardown failed'),
      );
    }
    throw error;
  }
}

/** Settings every node shares; the node's log goes to `<logDir>/<node>.log` as it is written. */
async function startNode<C extends GenericContainer>(
  container: C,
  node: K3sNodePlan,
  plan: K3sClusterPlan,
  config: K3sConfig,
  logDir: string,
): Promise<Awaited<ReturnType<C['start']>>> {
  const logFile = join(logDir, `${node.name}.log`);
  try {
    return (await container
      .withName(node.containerName)
      .withCommand([...node.command])
      .withEnvironment({ ...node.environment })
      .withLabels({ ...node.dockerLabels })
      .withNetworkMode(plan.networkName)
      .withStartupTimeout(config.startupTimeoutMs)
      // Ryuk (when enabled) would remove a cluster meant to outlive this process.
      .withAutoCleanup(!(config.keep || config.keepOnFailure))
      .withLogConsumer((stream) => stream.pipe(createWriteStream(logFile)))
      .start()) as Awaited<ReturnType<C['start']>>;
  } catch (error) {
    // No log file: the container never ran (the consumer attaches once it has started).
    const tail = existsSync(logFile) ? `\n${logTail(logFile)}` : '';
    throw new Error(`k3s ${node.role} ${node.name} did not start: ${(error as Error).message.trim()}${tail}`);
  }
}

async function waitNodesReady(
  kubeConfig: KubeConfig,
  names: readonly string[],
  timeoutMs: number,
  logger: Logger,
  quiet: boolean,
): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const began = performance.now();
  let lastProgress = began;
  let state = 'not listed yet';
  for (;;) {
    try {
      const nodes = await core.listNode();
      const notReady = names.filter((name) => {
        const node = nodes.items.find((n) => n.metadata?.name === name);
        return node?.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True';
      });
      if (notReady.length === 0) return;
      state = `not Ready: ${notReady
        .map((name) => {
          const node = nodes.items.find((n) => n.metadata?.name === name);
          const ready = node?.status?.conditions?.find((c) => c.type === 'Ready');
          return node
            ? `${name} (${ready?.reason ?? 'no Ready condition'}: ${ready?.message ?? ''})`
            : `${name} (not registered)`;
        })
        .join(', ')}`;
    } catch (error) {
      state = `listing nodes failed: ${(error as Error).message}`;
    }
    const elapsedMs = performance.now() - began;
    if (elapsedMs > timeoutMs) throw new Error(`k3s nodes not Ready after ${Math.round(elapsedMs / 1000)} s; ${state}`);
    if (performance.now() - lastProgress > 10_000) {
      lastProgress = performance.now();
      if (!quiet) process.stderr.write(`[cluster]   … ${state}\n`);
      logger.debug({ state }, 'waiting for nodes');
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The nodes' own logs (k3s server, agents: kubelet, containerd, flannel) and every pod container's log. */
async function collectLogs(dir: string, logDir: string, core: CoreV1Api): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const name of readdirSync(logDir)) {
    const target = join(dir, `k3s-node-${name}`);
    copyFileSync(join(logDir, name), target);
    written.push(target);
  }
  const pods = await core.listPodForAllNamespaces().catch(() => ({ items: [] }));
  for (const pod of pods.items) {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    for (const container of pod.spec?.containers ?? []) {
      const log = await core
        .readNamespacedPodLog({ name, namespace, container: container.name })
        .catch((error: Error) => `(no log: ${error.message})\n`);
      const target = join(dir, `${namespace}_${name}_${container.name}.log`);
      writeFileSync(target, log);
      written.push(target);
    }
  }
  return written;
}
