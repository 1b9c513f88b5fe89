/**
 * dockerd bind-mounts its data root onto itself (and containers' layers and netns files below its
 * roots). Debian's dockerd 20.10 leaves that bind mount behind even after a clean SIGTERM exit (seen
 * here), a killed one leaves the rest too, and every start stacks another: cleared here whenever no
 * dockerd of ours runs.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Mount points at or below any of `roots`, deepest first (field 5 of /proc/self/mountinfo). */
export function mountsUnder(roots: readonly string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map((point) =>
      point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
    )
    .filter((point) => roots.some((root) => point === root || point.startsWith(`${root}/`)));
  return points.sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `roots` (stacked mounts included); returns how many it removed. */
export async function unmountUnder(roots: readonly string[]): Promise<number> {
  let removed = 0;
  for (let points = mountsUnder(roots); points.length > 0; points = mountsUnder(roots)) {
    for (const point of points) {
      try {
        await run('umount', [point]);
      } catch (error) {
        throw new Error(`umount ${point}: ${String((error as { stderr?: string }).stderr ?? error).trim()}`);
      }
      removed += 1;
    }
  }
  return removed;
}
