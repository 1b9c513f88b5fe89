/**
 * The interface every cluster driver implements (`local` here; kind, k3s and an existing cluster later),
 * so scenarios never care where pods run. A driver is configured first (options checked, steps
 * planned, nothing touched), then started; a started cluster is the handle scenarios use.
 */
import type { KubeConfig } from '@kubernetes/client-node';

export interface ClusterSpec {
  /** One node per zone for `local`; workers per zone elsewhere. Default zone-a, zone-b, zone-c. */
  readonly zones: readonly string[];
  readonly region: string;
  /** Leave the cluster running when start() fails (for debugging) instead of tearing it down. */
  readonly keepOnFailure: boolean;
}

export const DEFAULT_ZONES = ['zone-a', 'zone-b', 'zone-c'] as const;

export interface ClusterDriver {
  readonly kind: string;
  /** Checks options and plans the steps without side effects. */
  configure(spec: ClusterSpec): ConfiguredCluster;
}

export interface ConfiguredCluster {
  readonly kind: string;
  /** The steps start() will run, in order (printed with their timings as they run). */
  readonly steps: readonly string[];
  start(): Promise<StartedCluster>;
}

export interface StartedCluster {
  readonly kind: string;
  readonly name: string;
  readonly zones: readonly string[];
  /** Admin kubeconfig, usable from this machine (`kubectl --kubeconfig`). */
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
  /** Seconds from start() to every node Ready, and per step. */
  readonly timings: Readonly<Record<string, number>>;
  /** Makes images available to the nodes (local: checks them against the node agent's image table). */
  loadImages(images: readonly string[]): Promise<void>;
  /**
   * Drivers whose nodes pull our images under other names (`existing`: from a registry prefix): the name
   * the cluster knows `image` by once loadImages has run. Absent: images keep their names.
   */
  imageFor?(image: string): string;
  /** The same renames as kustomize `images:` entries, for applying the manifests. */
  imageOverrides?(): readonly { readonly name: string; readonly newName: string; readonly newTag: string }[];
  /** A container's output so far (local: the node agent's log file; elsewhere: `kubectl logs`). */
  podLogs(namespace: string, pod: string, container: string): Promise<string>;
  /** Copies component and pod logs into `dir`; returns the files written. */
  collectLogs(dir: string): Promise<string[]>;
  /** Resident memory of every process the cluster runs, by component (drivers that can see them). */
  memory?(): Promise<ClusterMemory>;
  /** Tears down everything the cluster made. Safe to call twice. */
  delete(): Promise<void>;
}

export interface ClusterMemory {
  readonly rssMb: number;
  readonly processes: number;
  readonly byComponentMb: Readonly<Record<string, number>>;
}

export interface Step<T> {
  readonly name: string;
  run(): Promise<T>;
}

/** Prints `▸ name …` then `✓ name 1.2 s` (or `✗`) on stderr for each step; returns seconds per step. */
export async function timed<T>(
  name: string,
  run: () => Promise<T>,
  timings: Record<string, number>,
  quiet = false,
): Promise<T> {
  const began = performance.now();
  if (!quiet) process.stderr.write(`[cluster] ▸ ${name} …\n`);
  try {
    const result = await run();
    const seconds = (performance.now() - began) / 1000;
    timings[name] = Math.round(seconds * 100) / 100;
    if (!quiet) process.stderr.write(`[cluster] ✓ ${name} ${seconds.toFixed(1)} s\n`);
    return result;
  } catch (error) {
    const seconds = (performance.now() - began) / 1000;
    process.stderr.write(`[cluster] ✗ ${name} failed after ${seconds.toFixed(1)} s\n`);
    throw error;
  }
}
