/**
 * `applyNice` in a child process (niceness cannot be raised back, so never in the test runner): the
 * kernel's per-thread and autogroup niceness are read back from /proc; the autogroup is changed only
 * for a child that leads its own session; a refused change is reported, not thrown.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CpuPriority } from '../src/cpu-priority.ts';

const MODULE = fileURLToPath(new URL('../src/cpu-priority.ts', import.meta.url));

// Applies the niceness, then reads every thread's niceness (field 19 of /proc/self/task/<tid>/stat).
const SCRIPT = `
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { applyNice } from ${JSON.stringify(MODULE)};
const result = applyNice(Number(process.argv[1]));
const nices = readdirSync('/proc/self/task').map((tid) => {
  const stat = readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
});
const autogroup = existsSync('/proc/self/autogroup') ? readFileSync('/proc/self/autogroup', 'utf8').trim() : null;
console.log(JSON.stringify({ result, nices, autogroup }));
`;

interface ChildView {
  readonly result: CpuPriority;
  readonly nices: number[];
  /** /proc/self/autogroup after the change, e.g. \`/autogroup-12 nice 7\`; null without autogroups. */
  readonly autogroup: string | null;
}

async function inChild(nice: number, options: { asNobody?: boolean; ownSession?: boolean } = {}): Promise<ChildView> {
  // spawn, not execFile: execFile does not pass `detached` on.
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, '--', String(nice)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // As root the child would be allowed anything: an unprivileged user shows the refusal.
    ...(options.asNobody ? { uid: 65534, gid: 65534 } : {}),
    // A session (and so an autogroup) of its own, as the node agent starts a container.
    ...(options.ownSession ? { detached: true } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`child exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as ChildView;
}

const root = process.getuid?.() === 0;
const autogroups = (() => {
  try {
    return readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
  } catch {
    return false;
  }
})();

describe('applyNice', () => {
  it("sets every thread's niceness, and leaves alone the autogroup it shares with the test runner", async () => {
    const { result, nices, autogroup } = await inChild(7);
    expect(result).toEqual({ nice: 7, applied: true, threads: nices.length, autogroup: autogroups ? 'shared' : 'off' });
    expect(nices.length).toBeGreaterThan(1);
    expect(new Set(nices)).toEqual(new Set([7]));
    if (autogroup !== null) expect(autogroup).not.toMatch(/ nice 7$/);
  });

  it('sets the autogroup niceness too when the process leads its own session', async () => {
    const { result, nices, autogroup } = await inChild(7, { ownSession: true });
    expect(new Set(nices)).toEqual(new Set([7]));
    if (autogroups) {
      expect(result).toEqual({ nice: 7, applied: true, threads: nices.length, autogroup: 'own' });
      expect(autogroup).toMatch(/^\/autogroup-\d+ nice 7$/);
    } else {
      expect(result.autogroup).toBe('off');
    }
  });

  it('reports, without throwing, a niceness below 0 that an unprivileged process may not take', async () => {
    const { result, nices } = await inChild(-5, { asNobody: root, ownSession: true });
    expect(result).toMatchObject({ nice: -5, applied: false, threads: 0, autogroup: autogroups ? 'own' : 'off' });
    expect(result.error).toBe('could not set niceness -5: needs CAP_SYS_NICE (or root) to go below 0');
    expect(new Set(nices)).toEqual(new Set([0]));
  });
});
