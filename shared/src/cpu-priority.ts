/**
 * CPU priority for the two ends of a measured call: the load client (`skewless load --nice`) and the
 * Echo backend (`skewless backend --nice`). On a machine where every node of the cluster shares the
 * same cores (the local cluster), a busy moment — a rollout starting pods, the API server, node agents
 * and kube-proxies following it — delays the client's timers and the backend's replies alike, and an
 * open-loop client counts that wait as latency. Both ends run ahead of that machinery, the client
 * first (it times the calls: its own wait must not count), as on a real cluster the generator would
 * have a node of its own and the control plane's components machines of theirs.
 *
 * Linux shares the CPU between autogroups (one per session) before it looks at a thread's niceness,
 * and the local node agent starts every container in a session of its own: there, the autogroup's
 * niceness is what counts, so it is set too — but only when this process leads its session, never a
 * group it shares with a shell or a test runner. In a real cluster the pod's CPU request decides.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';

export interface CpuPriority {
  /** The niceness asked for (−20…19). */
  readonly nice: number;
  /** Whether every thread, and the autogroup when it is the process's own, got it. */
  readonly applied: boolean;
  /** Threads set (on Linux, niceness is per thread; threads started later inherit it). */
  readonly threads: number;
  /** `own`: the process leads its session, so its autogroup is changed too; `shared`: left alone; `off`: no autogroups. */
  readonly autogroup: Autogroup;
  /** Why not, when not applied. */
  readonly error?: string;
}

type Autogroup = 'own' | 'shared' | 'off';

/** Sets `nice` on every thread of this process and its own autogroup; never throws (a refusal is reported). */
export function applyNice(nice: number, proc = '/proc'): CpuPriority {
  const autogroup = autogroupOf(proc);
  let tids: number[];
  try {
    tids = readdirSync(join(proc, 'self/task')).map(Number).filter(Number.isInteger);
  } catch {
    // No per-thread view (not Linux): the process as a whole.
    tids = [0];
  }
  let threads = 0;
  for (const tid of tids) {
    try {
      setPriority(tid, nice);
      threads += 1;
    } catch (error) {
      // A thread that ended since the listing is not a failure.
      if (errnoOf(error) === 'ESRCH') continue;
      return { nice, applied: false, threads, autogroup, error: refusal(nice, error) };
    }
  }
  if (autogroup === 'own') {
    try {
      writeFileSync(join(proc, 'self/autogroup'), String(nice));
    } catch (error) {
      return { nice, applied: false, threads, autogroup, error: refusal(nice, error) };
    }
  }
  return { nice, applied: threads > 0, threads, autogroup };
}

/** Whether this process has an autogroup to itself (it leads its session), shares one, or there are none. */
function autogroupOf(proc: string): Autogroup {
  try {
    if (readFileSync(join(proc, 'sys/kernel/sched_autogroup_enabled'), 'utf8').trim() !== '1') return 'off';
    const stat = readFileSync(join(proc, 'self/stat'), 'utf8');
    // Fields after the command name: state ppid pgrp session …
    const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    return session === process.pid ? 'own' : 'shared';
  } catch {
    return 'off';
  }
}

function errnoOf(error: unknown): string {
  // Node reports setPriority failures as ERR_SYSTEM_ERROR with the errno name in `info.code`.
  const { code, info } = error as { code?: string; info?: { code?: string } };
  return info?.code ?? code ?? '';
}

function refusal(nice: number, error: unknown): string {
  const why = ['EACCES', 'EPERM'].includes(errnoOf(error))
    ? 'needs CAP_SYS_NICE (or root) to go below 0'
    : (error as Error).message;
  return `could not set niceness ${nice}: ${why}`;
}
