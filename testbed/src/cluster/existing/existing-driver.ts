/**
 * The `existing` cluster driver: a cluster someone else runs, reached through a kubeconfig context.
 * It creates nothing but what the run needs and removes exactly that: its own namespaces (`skewless` by
 * default; existing-namespaces.ts), the manifests' cluster-scoped RBAC if the run made it
 * (existing-cluster-objects.ts), and the local registry tags of the images it pushed. It refuses a
 * context that looks like production unless the user names it (existing-guard.ts), and checks the nodes
 * offer the zones the spec needs (existing-zones.ts).
 *
 * configure() reads the kubeconfig and applies the production guard, so a refusal comes before any
 * request to the cluster. The started handle is AsyncDisposable; Node 22 has no `await using` syntax
 * yet, so callers use try/finally around `delete()`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { createLogger, type Logger } from '@skewless/shared';
import type { ClusterDriver, ClusterSpec, ConfiguredCluster, StartedCluster } from '../driver.ts';
import { timed } from '../driver.ts';
import { defaultClusterParent } from '../local-cluster.ts';
import { type ClusterObject, listClusterObjects, removeNewClusterObjects } from './existing-cluster-objects.ts';
import { productionGuard } from './existing-guard.ts';
import {
  type ImageMapping,
  isOurImage,
  type KustomizeImage,
  kustomizeImages,
  pushImage,
  registryImage,
  untagImage,
} from './existing-images.ts';
import { claimNamespace, type OwnedNamespace, releaseNamespace, waitNamespaceGone } from './existing-namespaces.ts';
import {
  type ExistingClusterOptions,
  type ExistingConfig,
  existingConfig,
  singleContextKubeConfig,
} from './existing-options.ts';
import { chooseZones, describeZones, surveyZones, type ZoneSurvey } from './existing-zones.ts';

export interface ConfiguredExistingCluster extends ConfiguredCluster {
  readonly config: ExistingConfig;
  /** The context's name, cluster name or server matched the production pattern (and was confirmed). */
  readonly looksLikeProduction: boolean;
  start(): Promise<StartedExistingCluster>;
}

export interface StartedExistingCluster extends StartedCluster, AsyncDisposable {
  readonly context: string;
  readonly zoneSurvey: ZoneSurvey;
  /** The namespaces the run works in: `created` now, or `adopted` from a dead earlier run on this machine. */
  readonly namespaces: readonly OwnedNamespace[];
  /** The manifests' cluster-scoped objects that existed before the run (left alone by delete()). */
  readonly preexistingClusterObjects: readonly ClusterObject[];
  /** The name the cluster pulls `image` by, once loadImages has pushed it (others: unchanged). */
  imageFor(image: string): string;
  /** For the kustomization's `images:` list: every image loadImages pushed, under its registry name. */
  imageOverrides(): KustomizeImage[];
  /** Deletes one of the run's namespaces now; refuses any namespace the run did not create or adopt. */
  deleteNamespace(name: string): Promise<void>;
}

export interface ExistingClusterDriver extends ClusterDriver {
  configure(spec: ClusterSpec): ConfiguredExistingCluster;
}

export function existingClusterDriver(options: ExistingClusterOptions = {}): ExistingClusterDriver {
  return {
    kind: 'existing',
    configure(spec: ClusterSpec): ConfiguredExistingCluster {
      const config = existingConfig(options, spec, defaultClusterParent());
      const guard = productionGuard(
        { context: config.context.name, cluster: config.cluster.name, server: config.cluster.server },
        config.productionPattern,
        config.confirmContext,
      );
      if (!guard.ok) throw new Error(`existing cluster: ${guard.message}`);
      const steps = [
        `reach ${config.cluster.server} (context ${config.context.name})`,
        'zones from node labels',
        `namespaces: ${config.namespaces.join(', ')}`,
      ];
      let started = false;
      return {
        kind: 'existing',
        steps,
        config,
        looksLikeProduction: guard.looksLikeProduction,
        start() {
          if (started) return Promise.reject(new Error('existing cluster: start() runs once per configure()'));
          started = true;
          return startExisting(config, steps, options.logger ?? createLogger('existing-cluster'));
        },
      };
    },
  };
}

async function startExisting(
  config: ExistingConfig,
  steps: readonly string[],
  logger: Logger,
): Promise<StartedExistingCluster> {
  const quiet = !config.progress;
  const timings: Record<string, number> = {};
  const began = performance.now();
  const step = <T>(index: number, run: () => Promise<T>) => timed(steps[index] ?? `step ${index}`, run, timings, quiet);
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`[cluster] ${line}\n`);
  };
  const runId = randomBytes(3).toString('hex');
  const kubeConfig = singleContextKubeConfig(config);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);

  const nodes = await step(0, async () => {
    try {
      return (await core.listNode()).items;
    } catch (error) {
      throw new Error(
        `existing cluster: cannot list nodes at ${config.cluster.server} with context "${config.context.name}": ${(error as Error).message}`,
      );
    }
  });
  const survey = surveyZones(nodes);
  const zones = await step(1, async () => chooseZones(survey, config.zones, config.minZones));
  say(`zones: ${describeZones(survey)}; using ${zones.join(', ')}`);
  const before = await listClusterObjects(rbac).catch((error: Error) => {
    throw new Error(`existing cluster: cannot list ClusterRoles/ClusterRoleBindings: ${error.message}`);
  });
  if (before.length > 0) {
    say(`already in the cluster, left alone: ${before.map((o) => `${o.kind} ${o.name}`).join(', ')}`);
  }

  const owned: OwnedNamespace[] = [];
  /** Pushed to the registry: what the cluster pulls. */
  const pushed: ImageMapping[] = [];
  /** Registry tags made in the local engine, pushed or not: removed by delete(). */
  const tagged: ImageMapping[] = [];
  const runDir = join(config.parentDir, `existing-${runId}`);
  let deleting: Promise<void> | undefined;
  const teardown = () => {
    deleting ??= (async () => {
      const stopBegan = performance.now();
      const problems: string[] = [];
      for (const namespace of owned) {
        await releaseNamespace(core, namespace).catch((error: Error) => problems.push(error.message));
      }
      const removed = await removeNewClusterObjects(rbac, before).catch((error: Error) => {
        problems.push(error.message);
        return [];
      });
      for (const mapping of tagged) {
        await untagImage(config.docker, mapping.target).catch((error: Error) => problems.push(error.message));
      }
      rmSync(runDir, { recursive: true, force: true });
      for (const namespace of owned) {
        if (!(await waitNamespaceGone(core, namespace.name, config.namespaceGoneTimeoutMs).catch(() => false))) {
          say(
            `namespace ${namespace.name} still Terminating after ${Math.round(config.namespaceGoneTimeoutMs / 1000)} s`,
          );
        }
      }
      if (problems.length > 0)
        throw new Error(`existing cluster: delete left things behind:\n  ${problems.join('\n  ')}`);
      const seconds = ((performance.now() - stopBegan) / 1000).toFixed(1);
      say(
        `✓ removed namespaces ${owned.map((n) => n.name).join(', ')}${removed.length > 0 ? `, ${removed.map((o) => `${o.kind} ${o.name}`).join(', ')}` : ''} in ${seconds} s`,
      );
    })();
    return deleting;
  };

  try {
    await step(2, async () => {
      for (const name of config.namespaces) {
        const namespace = await claimNamespace(core, name, runId, config.namespaceGoneTimeoutMs);
        owned.push(namespace);
        if (namespace.how === 'adopted') say(`adopted namespace ${name} from an earlier run whose process is gone`);
      }
    });
  } catch (error) {
    await teardown().catch((cleanupError: Error) => logger.error({ err: cleanupError.message }, 'teardown failed'));
    throw error;
  }
  mkdirSync(runDir, { recursive: true });
  const kubeconfigPath = join(runDir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeConfig.exportConfig(), { mode: 0o600 });
  timings.total = Math.round((performance.now() - began) / 100) / 10;
  const ownNames = new Set(config.namespaces);
  const assertOwn = (namespace: string) => {
    if (!ownNames.has(namespace)) {
      throw new Error(
        `existing cluster: namespace ${namespace} is not one of the run's (${config.namespaces.join(', ')})`,
      );
    }
  };

  return {
    kind: 'existing',
    name: config.context.name,
    context: config.context.name,
    zones,
    zoneSurvey: survey,
    namespaces: owned,
    preexistingClusterObjects: before,
    kubeconfigPath,
    kubeConfig,
    timings,
    async loadImages(images) {
      const ours = [...new Set(images)].filter(isOurImage);
      if (ours.length === 0 || config.imagesOnNodes) return;
      const registry = config.registry;
      if (!registry) {
        throw new Error(
          `existing cluster: ${ours.join(', ')} must be pushed to a registry the cluster pulls from; set the registry prefix (e.g. registry.example.com/team), or say the nodes have them already (images on nodes)`,
        );
      }
      await timed(
        `push ${ours.length} images to ${registry}`,
        async () => {
          for (const image of ours) {
            const mapping = registryImage(image, registry, config.imageTag);
            // Recorded before the push: a failed push can leave the tag, which is still ours to remove.
            if (!tagged.some((t) => t.target === mapping.target)) tagged.push(mapping);
            await pushImage(config.docker, mapping);
            if (!pushed.some((p) => p.target === mapping.target)) pushed.push(mapping);
          }
        },
        timings,
        quiet,
      );
    },
    imageFor(image) {
      return pushed.find((p) => p.source === image)?.target ?? image;
    },
    imageOverrides: () => kustomizeImages(pushed),
    async podLogs(namespace, pod, container) {
      assertOwn(namespace);
      return core.readNamespacedPodLog({ name: pod, namespace, container });
    },
    async collectLogs(dir) {
      // Only the run's own namespaces: other teams' pods are none of its business.
      mkdirSync(dir, { recursive: true });
      const written: string[] = [];
      for (const namespace of config.namespaces) {
        const pods = await core.listNamespacedPod({ namespace }).catch(() => ({ items: [] }));
        for (const pod of pods.items) {
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
        const events = await core.listNamespacedEvent({ namespace }).catch(() => ({ items: [] }));
        const target = join(dir, `${namespace}_events.json`);
        writeFileSync(target, `${JSON.stringify(events.items, null, 2)}\n`);
        written.push(target);
      }
      return written;
    },
    async deleteNamespace(name) {
      const namespace = owned.find((n) => n.name === name);
      if (!namespace) {
        throw new Error(
          `refusing to delete namespace ${name}: this run did not create it (its own: ${owned.map((n) => n.name).join(', ')})`,
        );
      }
      await releaseNamespace(core, namespace);
    },
    delete: teardown,
    [Symbol.asyncDispose]: teardown,
  };
}
