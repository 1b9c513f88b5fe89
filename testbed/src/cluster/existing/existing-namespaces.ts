/**
 * The namespaces the `existing` driver works in, and the only ones it ever deletes: each is created by
 * the run (labelled `app.kubernetes.io/managed-by=skewless-testbed`, annotated with its owner) or adopted
 * from an earlier testbed run on this machine whose process is gone. A namespace someone else made —
 * possibly a real Skewless deployment — is refused, never touched. Deletion checks the namespace is still
 * the very one the run claimed (same uid).
 */
import { hostname } from 'node:os';
import { type CoreV1Api, PatchStrategy, setHeaderOptions, type V1Namespace } from '@kubernetes/client-node';
import { isAlive } from '../../apiserver/leftovers.ts';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'skewless-testbed';
/** `<hostname>/<pid>` of the process that claimed the namespace. */
export const OWNER_ANNOTATION = 'skewless.dev/testbed-owner';
export const RUN_ANNOTATION = 'skewless.dev/testbed-run';

export interface OwnedNamespace {
  readonly name: string;
  readonly uid: string;
  readonly how: 'created' | 'adopted';
}

export function ownerId(): string {
  return `${hostname()}/${process.pid}`;
}

function statusOf(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}

async function readNamespace(core: CoreV1Api, name: string): Promise<V1Namespace | undefined> {
  try {
    return await core.readNamespace({ name });
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw new Error(`reading namespace ${name}: ${(error as Error).message}`);
  }
}

async function waitGone(core: CoreV1Api, name: string, timeoutMs: number): Promise<boolean> {
  const began = performance.now();
  while (performance.now() - began < timeoutMs) {
    if (!(await readNamespace(core, name))) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return (await readNamespace(core, name)) === undefined;
}

export async function claimNamespace(
  core: CoreV1Api,
  name: string,
  runId: string,
  terminatingTimeoutMs: number,
): Promise<OwnedNamespace> {
  const existing = await readNamespace(core, name);
  const annotations = { [OWNER_ANNOTATION]: ownerId(), [RUN_ANNOTATION]: runId };
  if (existing) {
    if (existing.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
      throw new Error(
        `namespace ${name} already exists and was not created by the testbed (no label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}): ` +
          'refusing to work in it or delete it; choose other namespaces, or remove it yourself if it is a leftover',
      );
    }
    const owner = existing.metadata?.annotations?.[OWNER_ANNOTATION] ?? '';
    const [host, pidText] = owner.split('/');
    const pid = Number(pidText);
    if (host !== hostname() || !Number.isInteger(pid)) {
      throw new Error(
        `namespace ${name} belongs to a testbed run on ${owner || 'an unknown owner'}: refusing to take it over; ` +
          `if that run is over, delete it (kubectl delete namespace ${name})`,
      );
    }
    if (isAlive(pid)) throw new Error(`namespace ${name} is in use by a live testbed run (pid ${pid} on this machine)`);
    if (existing.metadata?.deletionTimestamp) {
      // An earlier run's deletion still under way: wait for it, then create afresh.
      if (!(await waitGone(core, name, terminatingTimeoutMs))) {
        throw new Error(`namespace ${name} is still Terminating after ${Math.round(terminatingTimeoutMs / 1000)} s`);
      }
    } else {
      const adopted = await core.patchNamespace({ name, body: { metadata: { annotations } } }, mergePatch);
      return { name, uid: adopted.metadata?.uid ?? '', how: 'adopted' };
    }
  }
  const created = await core.createNamespace({
    body: { metadata: { name, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }, annotations } },
  });
  return { name, uid: created.metadata?.uid ?? '', how: 'created' };
}

/** Deletes a namespace the run claimed, if it is still that one; returns false when it was gone already. */
export async function releaseNamespace(core: CoreV1Api, owned: OwnedNamespace): Promise<boolean> {
  const current = await readNamespace(core, owned.name);
  if (!current) return false;
  if (current.metadata?.uid !== owned.uid) {
    throw new Error(
      `refusing to delete namespace ${owned.name}: it is not the one this run claimed (uid ${current.metadata?.uid}, claimed ${owned.uid})`,
    );
  }
  if (!current.metadata?.deletionTimestamp) await core.deleteNamespace({ name: owned.name });
  return true;
}

export { waitGone as waitNamespaceGone };
