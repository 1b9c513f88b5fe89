/**
 * Our images on a cluster we did not make: nodes pull from a registry, so `loadImages` tags each
 * `skewless/*` image with the configured registry prefix and pushes it (`docker tag`, `docker push`,
 * through the Docker CLI so the user's `docker login` credentials apply). The manifests must then name
 * the pushed images: `kustomizeImages` gives the entries for a kustomization's `images:` list.
 * Public images (Envoy, k6, curl) are left to their own registries.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ImageMapping {
  /** As the manifests name it: `skewless/backend:dev`. */
  readonly source: string;
  /** As the cluster pulls it: `registry.example.com/team/skewless/backend:dev`. */
  readonly target: string;
}

/** `skewless/backend:dev` (or `skewless/backend`) split into repository and tag (default `latest`). */
export function splitImage(image: string): { repository: string; tag: string } {
  const at = image.indexOf('@');
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = withoutDigest.lastIndexOf(':');
  if (colon > withoutDigest.lastIndexOf('/')) {
    return { repository: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) };
  }
  return { repository: withoutDigest, tag: 'latest' };
}

/** Only images with no registry of their own, under `skewless/`, are ours to push. */
export function isOurImage(image: string): boolean {
  return splitImage(image).repository.startsWith('skewless/');
}

export function registryImage(image: string, registry: string, tag?: string): ImageMapping {
  const { repository, tag: sourceTag } = splitImage(image);
  return { source: image, target: `${registry.replace(/\/+$/, '')}/${repository}:${tag ?? sourceTag}` };
}

export interface KustomizeImage {
  readonly name: string;
  readonly newName: string;
  readonly newTag: string;
}

/** Entries for a kustomization's `images:`, replacing each source repository (whatever its tag). */
export function kustomizeImages(mappings: readonly ImageMapping[]): KustomizeImage[] {
  return mappings.map((m) => {
    const target = splitImage(m.target);
    return { name: splitImage(m.source).repository, newName: target.repository, newTag: target.tag };
  });
}

/** `docker tag` then `docker push`; on failure names the command and Docker's own words. */
export async function pushImage(docker: string, mapping: ImageMapping): Promise<void> {
  for (const args of [
    ['tag', mapping.source, mapping.target],
    ['push', mapping.target],
  ]) {
    try {
      await run(docker, args, { maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      throw new Error(`${docker} ${args.join(' ')} failed: ${stderr || (error as Error).message}`);
    }
  }
}

/** Removes a tag `pushImage` made in the local engine (the image itself stays under its source name). */
export async function untagImage(docker: string, target: string): Promise<void> {
  await run(docker, ['image', 'rm', target]).catch((error: { stderr?: string }) => {
    if (!/No such image/i.test(error.stderr ?? '')) throw new Error(`${docker} image rm ${target}: ${error.stderr}`);
  });
}
