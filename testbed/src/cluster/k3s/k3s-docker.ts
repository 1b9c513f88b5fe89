/**
 * The Docker engine side of the k3s driver: the engine testcontainers resolves (DOCKER_HOST, or its
 * usual strategies), the image check that fails early and plainly, and removal of a run's containers
 * and network by label — what teardown and the leftover sweep both rely on, since a container whose
 * start failed has no testcontainers handle to stop it by.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@skewless/shared';
import { getContainerRuntimeClient } from 'testcontainers';
import { isAlive } from '../../apiserver/leftovers.ts';
import { DRIVER_LABEL_VALUE, LABEL_DRIVER, LABEL_OWNER_PID, LABEL_RUN } from './k3s-nodes.ts';

export const RUN_DIR_PREFIX = 'k3s-';
const KEPT_MARKER = 'kept';
const RECORD = 'k3s-run.json';

/** dockerode, as testcontainers holds it (named through testcontainers: dockerode is its dependency, not ours). */
export type Dockerode = Awaited<ReturnType<typeof getContainerRuntimeClient>>['container']['dockerode'];

export async function dockerEngine(): Promise<Dockerode> {
  try {
    const client = await getContainerRuntimeClient();
    return client.container.dockerode;
  } catch (error) {
    throw new Error(
      `k3s cluster: no Docker engine (${(error as Error).message}); set DOCKER_HOST to a running engine's socket`,
    );
  }
}

/** What Docker said, without dockerode's `(HTTP code 404) no such image -` wrapping when it has the JSON. */
export function dockerReason(error: unknown): string {
  const json = (error as { json?: { message?: string } | string | null }).json;
  if (json && typeof json === 'object' && typeof json.message === 'string') return json.message.trim();
  if (typeof json === 'string' && json.trim()) return json.trim();
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

function isNoSuchImage(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 404;
}

/**
 * Makes sure the engine has `image`, pulling it when allowed. Fails as
 * `image <image> not available: <reason from Docker>`, before anything is created.
 */
export async function ensureImage(
  docker: Dockerode,
  image: string,
  pull: 'missing' | 'never',
): Promise<'present' | 'pulled'> {
  const notAvailable = (reason: string) => new Error(`image ${image} not available: ${reason}`);
  try {
    await docker.getImage(image).inspect();
    return 'present';
  } catch (error) {
    if (!isNoSuchImage(error)) throw notAvailable(dockerReason(error));
    if (pull === 'never') throw notAvailable(`${dockerReason(error)} (and pull is 'never')`);
  }
  try {
    const stream = await docker.pull(image);
    // A pull that starts but fails (unknown tag, auth) reports the error inside the progress stream.
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())),
    );
  } catch (error) {
    throw notAvailable(dockerReason(error));
  }
  // Docker can end a pull "successfully" without the image (e.g. a platform mismatch): check again.
  try {
    await docker.getImage(image).inspect();
  } catch (error) {
    throw notAvailable(`pulled, yet ${dockerReason(error)}`);
  }
  return 'pulled';
}

export function labelFilter(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
}

/** Removes every container (running or not, with its anonymous volumes) and network carrying `labels`. */
export async function removeLabelled(
  docker: Dockerode,
  labels: Readonly<Record<string, string>>,
): Promise<{ containers: number; networks: number }> {
  const filters = labelFilter(labels);
  const containers = await docker.listContainers({ all: true, filters });
  const failures: string[] = [];
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch((error: unknown) => {
          // 404: gone meanwhile; 409: removal already in progress (auto-remove after stop).
          const status = (error as { statusCode?: number }).statusCode;
          if (status !== 404 && status !== 409)
            failures.push(`container ${c.Names[0] ?? c.Id}: ${dockerReason(error)}`);
        }),
    ),
  );
  // A network cannot go while a container still sits in it: wait out removals in progress.
  for (let attempt = 0; attempt < 50; attempt += 1) {
    if ((await docker.listContainers({ all: true, filters })).length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const networks = await docker.listNetworks({ filters });
  for (const n of networks) {
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch((error: unknown) => {
        if ((error as { statusCode?: number }).statusCode !== 404)
          failures.push(`network ${n.Name}: ${dockerReason(error)}`);
      });
  }
  if (failures.length > 0) throw new Error(`could not remove: ${failures.join('; ')}`);
  return { containers: containers.length, networks: networks.length };
}

export interface K3sRunRecord {
  readonly runId: string;
  readonly ownerPid: number;
}

export function writeRunRecord(dir: string, record: K3sRunRecord): void {
  writeFileSync(join(dir, RECORD), JSON.stringify(record));
}

export function markKept(dir: string): void {
  writeFileSync(join(dir, KEPT_MARKER), `${new Date().toISOString()}\n`);
}

export interface K3sSweepOptions {
  /** Also remove clusters kept on purpose (`make cluster-down`). */
  readonly includeKept: boolean;
}

/**
 * Removes k3s clusters left by dead runs: containers and networks labelled with a run whose owner process
 * is gone, and their run dirs under `parent`. Runs kept on purpose (a `kept` marker in their dir) stay
 * unless `includeKept`; live runs (a parallel test) always stay. Returns the run ids removed.
 */
export async function sweepK3sClusters(
  docker: Dockerode,
  parent: string,
  logger: Logger,
  options: K3sSweepOptions,
): Promise<string[]> {
  const owners = new Map<string, number>();
  const filters = labelFilter({ [LABEL_DRIVER]: DRIVER_LABEL_VALUE });
  for (const c of await docker.listContainers({ all: true, filters })) {
    const run = c.Labels[LABEL_RUN];
    if (run) owners.set(run, Number(c.Labels[LABEL_OWNER_PID]));
  }
  for (const n of await docker.listNetworks({ filters })) {
    const run = n.Labels?.[LABEL_RUN];
    if (run && !owners.has(run)) owners.set(run, Number(n.Labels?.[LABEL_OWNER_PID]));
  }
  const dirs = existsSync(parent) ? readdirSync(parent).filter((name) => name.startsWith(RUN_DIR_PREFIX)) : [];
  for (const name of dirs) {
    const run = name.slice(RUN_DIR_PREFIX.length);
    if (owners.has(run)) continue;
    const record = readRecord(join(parent, name));
    // A dir without a record is mid-creation by a live run.
    if (record) owners.set(run, record.ownerPid);
  }
  const removed: string[] = [];
  for (const [run, ownerPid] of owners) {
    const dir = join(parent, `${RUN_DIR_PREFIX}${run}`);
    const kept = existsSync(join(dir, KEPT_MARKER));
    const live = Number.isInteger(ownerPid) && ownerPid > 0 && isAlive(ownerPid);
    if (kept ? !options.includeKept : live) continue;
    const counts = await removeLabelled(docker, { [LABEL_DRIVER]: DRIVER_LABEL_VALUE, [LABEL_RUN]: run });
    rmSync(dir, { recursive: true, force: true });
    logger.info({ run, ...counts, kept }, 'removed a k3s cluster left by an earlier run');
    removed.push(run);
  }
  return removed;
}

function readRecord(dir: string): K3sRunRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, RECORD), 'utf8')) as K3sRunRecord;
  } catch {
    return undefined;
  }
}
