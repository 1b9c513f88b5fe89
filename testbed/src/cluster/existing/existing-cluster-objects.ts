/**
 * The manifests' only cluster-scoped objects are RBAC (the control plane reads Nodes for their zones):
 * a ClusterRole and a ClusterRoleBinding labelled `app.kubernetes.io/part-of=skewless`. They live outside
 * the run's namespaces, so deleting those does not remove them. The driver notes which such objects exist
 * when it starts and, on delete(), removes those that appeared during the run — never one that was there
 * before (someone's real installation), which it reports at start instead.
 */
import type { RbacAuthorizationV1Api } from '@kubernetes/client-node';

export const PART_OF_SELECTOR = 'app.kubernetes.io/part-of=skewless';

export interface ClusterObject {
  readonly kind: 'ClusterRole' | 'ClusterRoleBinding';
  readonly name: string;
  readonly uid: string;
}

export async function listClusterObjects(rbac: RbacAuthorizationV1Api): Promise<ClusterObject[]> {
  const roles = await rbac.listClusterRole({ labelSelector: PART_OF_SELECTOR });
  const bindings = await rbac.listClusterRoleBinding({ labelSelector: PART_OF_SELECTOR });
  return [
    ...roles.items.map((r) => ({
      kind: 'ClusterRole' as const,
      name: r.metadata?.name ?? '',
      uid: r.metadata?.uid ?? '',
    })),
    ...bindings.items.map((b) => ({
      kind: 'ClusterRoleBinding' as const,
      name: b.metadata?.name ?? '',
      uid: b.metadata?.uid ?? '',
    })),
  ];
}

/** Deletes the labelled objects not in `before` (by uid); returns what it deleted. */
export async function removeNewClusterObjects(
  rbac: RbacAuthorizationV1Api,
  before: readonly ClusterObject[],
): Promise<ClusterObject[]> {
  const known = new Set(before.map((o) => o.uid));
  const fresh = (await listClusterObjects(rbac)).filter((o) => !known.has(o.uid));
  for (const object of fresh) {
    const remove =
      object.kind === 'ClusterRole'
        ? rbac.deleteClusterRole({ name: object.name })
        : rbac.deleteClusterRoleBinding({ name: object.name });
    await remove.catch((error: { code?: number; message?: string }) => {
      if (error.code !== 404) throw new Error(`deleting ${object.kind} ${object.name}: ${error.message}`);
    });
  }
  return fresh;
}
