/**
 * The local node agent has no container runtime: an image name maps to a command on this machine.
 * This table is the one place that mapping lives (documented in testbed/README.md). The tag is not
 * consulted — the local cluster always runs the working tree — and a registry prefix is ignored, so
 * manifests written for kind or a real registry (`ghcr.io/…/skewless/backend:1.2`) run unchanged.
 */
import { fileURLToPath } from 'node:url';
import { toolPath } from '../apiserver/tool-path.ts';

const CLI = fileURLToPath(new URL('../../../cli/src/main.ts', import.meta.url));

export interface ImageEntry {
  /** What the image's ENTRYPOINT would be. */
  readonly entrypoint: () => string[];
  /** What the image's CMD would be (used when the container gives neither command nor args). */
  readonly defaultArgs: readonly string[];
  readonly description: string;
}

const nodeCli = (): string[] => [process.execPath, CLI];

export const IMAGE_TABLE: ReadonlyMap<string, ImageEntry> = new Map([
  ['skewless/backend', { entrypoint: nodeCli, defaultArgs: ['backend'], description: 'node cli/src/main.ts' }],
  [
    'skewless/control-plane',
    { entrypoint: nodeCli, defaultArgs: ['control-plane'], description: 'node cli/src/main.ts' },
  ],
  ['skewless/load', { entrypoint: nodeCli, defaultArgs: ['load'], description: 'node cli/src/main.ts' }],
  [
    'envoyproxy/envoy',
    {
      entrypoint: () => [toolPath('envoy')],
      defaultArgs: [],
      description: '.tools/bin/envoy (Envoy from the bootstrap)',
    },
  ],
  [
    'grafana/k6',
    {
      // The image's ENTRYPOINT is `k6`: pods give `args: [run, …]`.
      entrypoint: () => [toolPath('k6')],
      defaultArgs: [],
      description: '.tools/bin/k6 (k6 from the bootstrap; TypeScript scripts run as they are)',
    },
  ],
  [
    'curlimages/curl',
    {
      entrypoint: () => ['/usr/bin/curl'],
      defaultArgs: ['--help'],
      description: "curl (Debian's, installed by scripts/tools.sh debian)",
    },
  ],
  [
    'coredns/coredns',
    {
      entrypoint: () => [toolPath('coredns')],
      defaultArgs: [],
      description: '.tools/bin/coredns (CoreDNS from the bootstrap; the local cluster DNS)',
    },
  ],
]);

/** `docker.io/envoyproxy/envoy:v1.36.4@sha256:…` → `envoyproxy/envoy`; `ghcr.io/x/skewless/backend:dev` → `skewless/backend`. */
export function imageRepository(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const name = colon > lastSlash ? withoutDigest.slice(0, colon) : withoutDigest;
  const parts = name.split('/');
  return parts.slice(-2).join('/');
}

export type ResolvedCommand = { ok: true; argv: string[] } | { ok: false; reason: string; message: string };

/** Kubernetes' rules: `command` replaces the entrypoint, `args` replace the default arguments. */
export function resolveCommand(
  image: string,
  command: readonly string[] = [],
  args: readonly string[] = [],
): ResolvedCommand {
  const entry = IMAGE_TABLE.get(imageRepository(image));
  if (entry === undefined) {
    const known = [...IMAGE_TABLE.keys()].join(', ');
    return {
      ok: false,
      reason: 'ErrImagePull',
      message: `image "${image}" is not in the local node agent's image table (known: ${known})`,
    };
  }
  if (command.length > 0) return { ok: true, argv: [...command, ...args] };
  return { ok: true, argv: [...entry.entrypoint(), ...(args.length > 0 ? args : entry.defaultArgs)] };
}
