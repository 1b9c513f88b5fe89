/** Where scripts/tools.sh installs pinned binaries; a missing one is an error that says how to get it. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '..', '..', '..');

export function toolPath(name: string): string {
  const dir = process.env.SKEWLESS_TOOLS_DIR ?? join(repoRoot, '.tools');
  const path = join(dir, 'bin', name);
  if (!existsSync(path)) {
    throw new Error(`${name} is not installed at ${path}: run \`make tools\` (or \`scripts/tools.sh ${name}\`) first`);
  }
  return path;
}
