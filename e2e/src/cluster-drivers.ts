/**
 * `--cluster <name>` → the testbed's cluster driver. Every driver boots (or, for `existing`, borrows) a
 * cluster with nodes labelled by zone; the session then applies `manifests/overlays/<driver kind>`.
 */
import {
  type ClusterDriver,
  type ExistingClusterOptions,
  existingClusterDriver,
  k3sClusterDriver,
  kindClusterDriver,
  localClusterDriver,
} from '@skewless/testbed';

export const CLUSTER_DRIVERS = ['local', 'kind', 'k3s', 'existing'] as const;
export type ClusterDriverName = (typeof CLUSTER_DRIVERS)[number];

export interface ClusterDriverOptions {
  /** `existing`: kubeconfig, context, confirmContext, registry, imageTag. */
  readonly existing?: ExistingClusterOptions;
  /** `k3s`: `never` where no registry is reachable (nothing is pulled; a missing image fails at once). */
  readonly k3sPull?: 'missing' | 'never';
}

export function isClusterDriverName(name: string): name is ClusterDriverName {
  return (CLUSTER_DRIVERS as readonly string[]).includes(name);
}

export function clusterDriver(name: ClusterDriverName, options: ClusterDriverOptions = {}): ClusterDriver {
  switch (name) {
    case 'local':
      return localClusterDriver();
    case 'kind':
      return kindClusterDriver();
    case 'k3s':
      return k3sClusterDriver(options.k3sPull ? { pull: options.k3sPull } : {});
    case 'existing':
      return existingClusterDriver(options.existing ?? {});
  }
}
