/**
 * Images into the k3s nodes without a registry: `docker save` each image from the engine to a tar, copy
 * the tar into every agent container and `ctr images import` it into k3s's containerd (namespace k8s.io,
 * where the kubelet looks). The server is skipped: its taint keeps Skewless's pods off it.
 *
 * Our own images (`skewless/*`, built by `make images`) must be in the engine; anything else missing
 * from it (Envoy, k6, curl) is left for the nodes to pull from its public registry, as a real cluster
 * would.
 */
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { StartedTestContainer } from 'testcontainers';
import { imageRepository } from '../../node-agent/image-table.ts';
import { type Dockerode, dockerReason } from './k3s-docker.ts';

export const CONTAINERD_SOCKET = '/run/k3s/containerd/containerd.sock';
const IN_NODE_DIR = '/var/lib/skewless-images';

/** The command that imports a `docker save` tar into the kubelet's containerd namespace. */
export function importCommand(tarPath: string): string[] {
  return ['ctr', '--address', CONTAINERD_SOCKET, '--namespace', 'k8s.io', 'images', 'import', tarPath];
}

/** `skewless/backend:dev` → `skewless_backend_dev.tar`. */
export function tarName(image: string): string {
  return `${image.replace(/[^A-Za-z0-9.-]+/g, '_')}.tar`;
}

export interface ImageNode {
  readonly name: string;
  readonly container: StartedTestContainer;
}

export interface ImportOutcome {
  readonly imported: readonly string[];
  /** Not in the engine and not ours: the nodes pull these themselves. */
  readonly leftToPull: readonly string[];
}

export async function importImages(
  docker: Dockerode,
  images: readonly string[],
  nodes: readonly ImageNode[],
  workDir: string,
): Promise<ImportOutcome> {
  const present: string[] = [];
  const absent: string[] = [];
  for (const image of new Set(images)) {
    try {
      await docker.getImage(image).inspect();
      present.push(image);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) {
        throw new Error(`image ${image}: the Docker engine could not inspect it: ${dockerReason(error)}`);
      }
      absent.push(image);
    }
  }
  const ours = absent.filter((image) => imageRepository(image).startsWith('skewless/'));
  if (ours.length > 0) {
    throw new Error(`images not in the Docker engine: ${ours.join(', ')} (\`make images\` builds them)`);
  }
  const dir = join(workDir, 'images');
  mkdirSync(dir, { recursive: true });
  try {
    const tars: string[] = [];
    for (const image of present) {
      const file = join(dir, tarName(image));
      await pipeline(await docker.getImage(image).get(), createWriteStream(file));
      tars.push(file);
    }
    await Promise.all(nodes.map((node) => importInto(node, tars)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { imported: present, leftToPull: absent };
}

async function importInto(node: ImageNode, tars: readonly string[]): Promise<void> {
  for (const tar of tars) {
    const target = `${IN_NODE_DIR}/${basename(tar)}`;
    await node.container.copyFilesToContainer([{ source: tar, target }]);
    const result = await node.container.exec(importCommand(target));
    await node.container.exec(['rm', '-f', target]);
    if (result.exitCode !== 0) {
      throw new Error(
        `node ${node.name}: ${importCommand(target).join(' ')} exited ${result.exitCode}: ${result.output.trim()}`,
      );
    }
  }
}
