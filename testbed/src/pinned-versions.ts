/** Reads tools/versions.env, the one place every external version and image is pinned. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const VERSIONS_FILE = join(resolve(import.meta.dirname, '..', '..'), 'tools', 'versions.env');

/** The value of `KEY=value` in tools/versions.env (or `versionsFile`); throws naming the file and key. */
export function pinnedVersion(key: string, versionsFile = VERSIONS_FILE): string {
  const value = new RegExp(`^${key}=(\\S+)$`, 'm').exec(readFileSync(versionsFile, 'utf8'))?.[1];
  if (!value) throw new Error(`${versionsFile} has no ${key}=<value> line`);
  return value;
}
