/**
 * The `kind` cluster driver: Kubernetes in Docker containers, made by the real kind binary (pinned in
 * tools/versions.env, installed by scripts/tools.sh kind) from a generated config — one control-plane node
 * and N workers per zone, labelled with their zone (kind-config.ts). It needs a Docker engine that can
 * pull the node image (a laptop, a CI runner); `dockerHost` or DOCKER_HOST picks the engine.
 *
 * configure() checks the options and plans the steps; start() clears leftovers, writes the config, runs
 * `kind create cluster`, waits for every node Ready with its zone; images go in with `kind load
 * docker-image`; delete() is `kind delete cluster`. A failed start() deletes the cluster unless
 * keepOnFailure.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createLogger, type Logger } from '@skewless/shared';
import { imageRepository } from '../../node-agent/image-table.ts';
import { type ClusterDriver, type ClusterSpec, type ConfiguredCluster, type StartedCluster, timed } from '../driver.ts';
import { indexRunDir, unindexRun } from '../run-index.ts';
import { describe, type KindCli, kindCli, kindErrorLines } from './kind-cli.ts';
import { kindConfigYaml, ZONE_LABEL } from './kind-config.ts';
import {
  KIND_CLUSTER_PREFIX,
  KIND_DIR_PREFIX,
  KIND_RUN_INDEX_DIR,
  type KindRecord,
  sweepKindClusters,
  writeKindRecord,
} from './kind-leftovers.ts';
import { type KindClusterOptions, type KindConfig, kindConfig } from './kind-options.ts';

export type { KindClusterOptions } from './kind-options.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..', '..');
/** Images we build (`make images`): never pulled, since no registry has them. */
const OWN_IMAGES = /^skewless\//;

export function kindClusterDriver(options: KindClusterOptions = {}): ClusterDriver {
  return {
    kind: 'kind',
    configure(spec: ClusterSpec): ConfiguredCluster {
      const config = kindConfig(options, spec, join(REPO_ROOT, '.cluster'));
      const workers = config.workersPerZone * config.zones.length;
      const steps = [
        'clear leftover kind clusters',
        'kind config',
        `kind create cluster (1 control-plane + ${workers} workers, ${config.nodeImage.split('@')[0]})`,
        `nodes Ready (${workers + 1}) with their zones`,
      ];
      return { kind: 'kind', steps, start: () => startKindCluster(config, steps, options.logger) };
    },
  };
}

async function startKindCluster(
  config: KindConfig,
  steps: readonly string[],
  givenLogger: Logger | undefined,
): Promise<StartedCluster> {
  const logger = givenLogger ?? createLogger('kind-cluster');
  const quiet = !config.progress;
  const timings: Record<string, number> = {};
  const began = performance.now();
  const step = <T>(index: number, run: () => Promise<T>) => timed(steps[index] ?? `step ${index}`, run, timings, quiet);
  const cli = kindCli({ kindPath: config.kindPath, dockerHost: config.dockerHost });
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`[cluster]   ${line}\n`);
  };
  mkdirSync(config.parentDir, { recursive: true });
  await step(0, () => sweepKindClusters(config.parentDir, cli, logger, { includeKept: false }));

  const runId = randomBytes(3).toString('hex');
  const name = `${KIND_CLUSTER_PREFIX}${runId}`;
  const dir = join(config.parentDir, `${KIND_DIR_PREFIX}${runId}`);
  mkdirSync(dir, { recursive: true });
  const record: KindRecord = { name, ownerPid: process.pid, kept: config.keep, dockerHost: config.dockerHost };
  writeKindRecord(dir, record);
  // Another checkout's sweep on the same engine finds this cluster's owner through the index.
  indexRunDir(KIND_RUN_INDEX_DIR, name, dir);
  const configPath = join(dir, 'kind-config.yaml');
  const kubeconfigPath = join(dir, 'kubeconfig');
  const createLog = join(dir, 'kind-create.log');
  let deleted = false;

  const teardown = async () => {
    if (deleted) return;
    deleted = true;
    const stopBegan = performance.now();
    // kind delete is idempotent: a cluster that never came up (or is gone) is not an error.
    await cli.kindOk(['delete', 'cluster', '--name', name, '--kubeconfig', kubeconfigPath]);
    rmSync(dir, { recursive: true, force: true });
    unindexRun(KIND_RUN_INDEX_DIR, name);
    if (!quiet)
      process.stderr.write(`[cluster] ✓ deleted ${name} in ${((performance.now() - stopBegan) / 1000).toFixed(1)} s\n`);
  };

  try {
    await step(1, async () =>
      writeFileSync(
        configPath,
        kindConfigYaml({
          name,
          zones: config.zones,
          region: config.region,
          workersPerZone: config.workersPerZone,
          nodeImage: config.nodeImage,
        }),
      ),
    );
    await step(2, async () => {
      const args = [
        'create',
        'cluster',
        '--name',
        name,
        '--config',
        configPath,
        '--image',
        config.nodeImage,
        '--kubeconfig',
        kubeconfigPath,
        // kind deletes what it made when creation fails, unless told to retain it for a look around.
        ...(config.keepOnFailure ? ['--retain'] : []),
      ];
      const result = await cli.kind(args, {
        timeoutMs: config.createTimeoutMs,
        onLine: (line) => say(`kind: ${line.trim()}`),
      });
      writeFileSync(createLog, `$ ${['kind', ...args].join(' ')}\n${result.stderr}`);
      if (result.code !== 0) {
        throw new Error(`${describe(['kind', ...args], result)}\n${kindErrorLines(result.stderr)}`);
      }
    });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await step(3, () => waitNodesReady(core, config, logger));
    timings.total = Math.round((performance.now() - began) / 100) / 10;
    if (!quiet) {
      process.stderr.write(
        `[cluster] kind cluster ${name} ready in ${timings.total.toFixed(1)} s — export KUBECONFIG=${kubeconfigPath}\n`,
      );
    }
    return {
      kind: 'kind',
      name,
      zones: config.zones,
      kubeconfigPath,
      kubeConfig,
      timings,
      loadImages: (images) =>
        timed(
          `load images (${new Set(images).size})`,
          () => loadImages(cli, name, images, config, say),
          timings,
          quiet,
        ),
      async podLogs(namespace, pod, container) {
        return core.readNamespacedPodLog({ name: pod, namespace, container });
      },
      async collectLogs(target) {
        mkdirSync(target, { recursive: true });
        const exported = join(target, name);
        await cli.kindOk(['export', 'logs', exported, '--name', name], { timeoutMs: 300_000 });
        cpSync(createLog, join(target, 'kind-create.log'));
        return [join(target, 'kind-create.log'), ...filesUnder(exported)];
      },
      delete: teardown,
    };
  } catch (error) {
    if (config.keepOnFailure) {
      record.kept = true;
      writeKindRecord(dir, record);
      process.stderr.write(
        `[cluster] kept after the failure for debugging: kind cluster ${name} (KUBECONFIG=${kubeconfigPath}); ` +
          `remove it with: kind delete cluster --name ${name} && rm -r ${dir}\n`,
      );
    } else {
      await teardown().catch((cleanupError: Error) =>
        logger.error({ err: cleanupError.message, cluster: name }, 'teardown failed'),
      );
    }
    throw error;
  }
}

/** Every node registered and Ready, and each zone with its workers (kind applied our labels). */
async function waitNodesReady(core: CoreV1Api, config: KindConfig, logger: Logger): Promise<void> {
  const want = config.workersPerZone * config.zones.length + 1;
  const began = performance.now();
  let lastProgress = began;
  let state = 'not listed yet';
  for (;;) {
    try {
      const nodes = (await core.listNode()).items;
      const ready = nodes.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      const perZone = config.zones.map((zone) => nodes.filter((n) => n.metadata?.labels?.[ZONE_LABEL] === zone).length);
      if (nodes.length === want && ready.length === want && perZone.every((n) => n === config.workersPerZone)) return;
      state = `${ready.length}/${want} Ready, ${nodes.length} registered, workers per zone ${config.zones
        .map((zone, i) => `${zone}=${perZone[i]}`)
        .join(' ')}`;
    } catch (error) {
      state = (error as Error).message;
    }
    const elapsedMs = performance.now() - began;
    if (elapsedMs > config.nodesReadyTimeoutMs)
      throw new Error(`kind nodes not Ready after ${config.nodesReadyTimeoutMs} ms: ${state}`);
    if (performance.now() - lastProgress > 10_000) {
      lastProgress = performance.now();
      logger.info({ elapsedMs: Math.round(elapsedMs), state }, 'waiting for the kind nodes');
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * `kind load docker-image` for every image the Docker engine has. Ours must be there (built by `make
 * images`); a public one missing is pulled here first (pull: missing) or left to the nodes (pull: never).
 */
async function loadImages(
  cli: KindCli,
  name: string,
  images: readonly string[],
  config: KindConfig,
  say: (line: string) => void,
): Promise<void> {
  const wanted = [...new Set(images)];
  const present: string[] = [];
  const missingOwn: string[] = [];
  for (const image of wanted) {
    const inspected = await cli.docker(['image', 'inspect', '--format', '{{.Id}}', image]);
    if (inspected.code === 0) present.push(image);
    else if (OWN_IMAGES.test(imageRepository(image))) missingOwn.push(image);
    else if (config.pull === 'never') say(`${image}: not in the Docker engine; the nodes pull it themselves`);
    else {
      say(`docker pull ${image}`);
      const pulled = await cli.docker(['pull', '--quiet', image], { timeoutMs: 600_000 });
      if (pulled.code !== 0)
        throw new Error(`${describe(['docker', 'pull', image], pulled)}: ${pulled.stderr.trim().slice(-2000)}`);
      present.push(image);
    }
  }
  if (missingOwn.length > 0) {
    throw new Error(
      `images not in the Docker engine${config.dockerHost ? ` at ${config.dockerHost}` : ''}: ${missingOwn.join(', ')} ` +
        '(build them with `make images`)',
    );
  }
  if (present.length === 0) return;
  say(`kind load docker-image ${present.join(' ')}`);
  await cli.kindOk(['load', 'docker-image', '--name', name, ...present], { timeoutMs: 600_000 });
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}
