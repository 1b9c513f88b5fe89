/**
 * A Docker engine of the test's own (Debian's dockerd): its own data root, exec root and unix socket
 * in a temp dir, no bridge, no iptables rules, vfs storage (no mounts), so it touches nothing of the
 * machine's and nothing of a parallel test's. It never runs a container here: the kind tests need an
 * engine kind can talk to (`docker info`, `docker ps`), not one that can pull. A crashed run's engine
 * is stopped by the next run's sweep (the temp dir records the dockerd and containerd groups).
 *
 * Not the testbed's shared engine (src/docker/startDockerEngine): these tests assert an engine with no
 * container at all and run kind's leftover sweep, which on a shared engine would see — and delete — a
 * real `skewless-*` kind cluster of another run.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '@skewless/shared';
import { RunDirRecord, sweepLeftovers } from '../src/apiserver/leftovers.ts';
import { signalGroup, startProcessGroup } from '../src/apiserver/process-group.ts';
import { waitReady } from '../src/apiserver/wait-ready.ts';

const run = promisify(execFile);
const PREFIX = 'skewless-test-dockerd-';
const DOCKERD = '/usr/sbin/dockerd';

export interface PrivateDockerEngine {
  /** `unix:///tmp/…/docker.sock`, for DOCKER_HOST. */
  readonly host: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export async function startPrivateDockerEngine(logger: Logger): Promise<PrivateDockerEngine> {
  if (!existsSync(DOCKERD))
    throw new Error(`${DOCKERD} is missing: install Debian's docker.io (scripts/tools.sh debian)`);
  sweepLeftovers(tmpdir(), PREFIX, logger);
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  const record = new RunDirRecord(dir);
  const host = `unix://${join(dir, 'docker.sock')}`;
  const group = startProcessGroup({
    command: DOCKERD,
    args: [
      `--data-root=${join(dir, 'data')}`,
      `--exec-root=${join(dir, 'exec')}`,
      `--pidfile=${join(dir, 'docker.pid')}`,
      `--host=${host}`,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--storage-driver=vfs',
    ],
    logFile: join(dir, 'dockerd.log'),
  });
  record.addGroup(group.pid, realpathSync(DOCKERD));
  let containerd: { pid: number; exe: string } | undefined;
  const stop = async () => {
    await group.stop(10_000);
    // dockerd stops the containerd it started (in a session of its own) on SIGTERM; make sure of it, by
    // PID, and only while that PID still runs containerd.
    if (containerd && containerd.exe !== '' && readExe(containerd.pid) === containerd.exe)
      signalGroup(containerd.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady({
      what: 'private dockerd',
      process: group,
      timeoutMs: 30_000,
      logger,
      probe: async () => {
        await run('docker', ['--host', host, 'version', '--format', '{{.Server.Version}}']);
        return true;
      },
    });
    const pidFile = join(dir, 'exec', 'containerd', 'containerd.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      containerd = { pid, exe: readExe(pid) };
      if (containerd.exe !== '') record.addGroup(pid, containerd.exe);
    }
  } catch (error) {
    const log = tail(join(dir, 'dockerd.log'));
    await stop();
    throw new Error(`${(error as Error).message}\n${log}`);
  }
  return { host, dir, stop };
}

function readExe(pid: number): string {
  try {
    return realpathSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}
