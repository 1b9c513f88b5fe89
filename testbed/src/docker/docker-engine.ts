/**
 * The Docker engine the testbed runs on: the machine's own when one answers (DOCKER_HOST, or
 * /var/run/docker.sock), never stopped here; otherwise Debian's dockerd started by us on a bridge of
 * our own, its data root cached under .tools/docker/ so images survive between runs.
 *
 * Several processes (parallel test files, `make images`) share one started engine: each holds a
 * reference recorded in engine.json, taken and dropped under a kernel lock, and the last one out stops
 * dockerd (by its process group) and deletes the bridge. A crashed run's engine is adopted if it still
 * answers and cleared (its processes, pidfile, socket and bridge) if it does not.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { signalGroup, startProcessGroup } from '../apiserver/process-group.ts';
import { deleteBridge, ensureBridge } from './docker-bridge.ts';
import { withEngineLock } from './docker-engine-lock.ts';
import { unmountUnder } from './docker-mounts.ts';
import { pingDocker, SYSTEM_DOCKER_HOST } from './docker-ping.ts';
import { commandLine, isRunning } from './docker-processes.ts';

/** Bridges our engines create start with this, so a sweep can recognise them. */
export const DOCKER_BRIDGE_PREFIX = 'skl-docker';

export interface DockerEngineOptions {
  /** Data root (cached images), log, record and lock. Default `<tools dir>/docker`. */
  readonly stateDir?: string;
  /** The bridge our containers join; at most 15 characters, starting with `skl-docker`. Default skl-docker0. */
  readonly bridge?: string;
  /** The bridge's own address and prefix. Default 10.251.0.1/24 (clear of the local cluster's ranges). */
  readonly bridgeCidr?: string;
  /** Where user-defined networks (`docker network create`) get their subnets. Default 10.251.64.0/18 in /24s. */
  readonly addressPool?: string;
  /** Use DOCKER_HOST or /var/run/docker.sock when one answers (default true). */
  readonly reuseExisting?: boolean;
  /** Keep the engine running after the last reference is dropped, until `stopKeptDockerEngine`. */
  readonly keep?: boolean;
  readonly startTimeoutMs?: number;
  /** No progress lines on stderr. */
  readonly quiet?: boolean;
}

export interface DockerEngine {
  /** For DOCKER_HOST: `unix:///…/docker.sock`. */
  readonly host: string;
  /** This call started dockerd (false: the machine's engine, or one another process of ours started). */
  readonly startedHere: boolean;
  /** `machine`: never stopped by us. `testbed`: ours, stopped when its last reference is dropped. */
  readonly owner: 'machine' | 'testbed';
  /** Drops this reference; the last one stops dockerd and deletes the bridge. Safe to call twice. */
  stop(): Promise<void>;
}

interface EngineRecord {
  pid: number;
  host: string;
  bridge: string;
  runDir: string;
  kept: boolean;
  users: { pid: number; token: string }[];
}

interface Resolved {
  stateDir: string;
  runDir: string;
  bridge: string;
  bridgeCidr: string;
  addressPool: string;
  keep: boolean;
  startTimeoutMs: number;
  quiet: boolean;
}

const repoRoot = resolve(import.meta.dirname, '..', '..', '..');

export function defaultDockerStateDir(): string {
  return join(process.env.SKEWLESS_TOOLS_DIR ?? join(repoRoot, '.tools'), 'docker');
}

export async function startDockerEngine(options: DockerEngineOptions = {}): Promise<DockerEngine> {
  if (options.reuseExisting ?? true) {
    const machine = await machineEngine();
    if (machine !== undefined) return machine;
  }
  const o = resolveOptions(options);
  mkdirSync(o.stateDir, { recursive: true });
  const token = randomUUID();
  const startedHere = await withEngineLock(lockFile(o), o.startTimeoutMs + 60_000, async () => {
    const record = readRecord(o);
    if (record !== undefined && isRunning(record.pid) && (await pingDocker(record.host)) === true) {
      record.users = [...liveUsers(record), { pid: process.pid, token }];
      record.kept ||= o.keep;
      writeRecord(o, record);
      progress(o, `✓ dockerd already running (pid ${record.pid}), joined: ${record.host}`);
      return false;
    }
    await clearLeftovers(o, record);
    const pid = await launch(o);
    writeRecord(o, {
      pid,
      host: hostOf(o),
      bridge: o.bridge,
      runDir: o.runDir,
      kept: o.keep,
      users: [{ pid: process.pid, token }],
    });
    return true;
  });
  let stopped = false;
  return {
    host: hostOf(o),
    startedHere,
    owner: 'testbed',
    async stop() {
      if (stopped) return;
      stopped = true;
      await release(o, token);
    },
  };
}

/** The running testbed engine's DOCKER_HOST, if one answers (for `docker-engine-cli.ts env`). */
export async function runningDockerEngine(options: DockerEngineOptions = {}): Promise<string | undefined> {
  const o = resolveOptions(options);
  const record = readRecord(o);
  if (record === undefined || !isRunning(record.pid)) return undefined;
  return (await pingDocker(record.host)) === true ? record.host : undefined;
}

/**
 * Stops a testbed engine nobody holds (kept by `start`, or orphaned by a crashed run); one still
 * held is only un-kept, and its last holder stops it. Returns what happened, for the CLI to print.
 */
export async function stopKeptDockerEngine(options: DockerEngineOptions = {}): Promise<string> {
  const o = resolveOptions(options);
  if (!existsSync(o.stateDir)) return 'no testbed Docker engine here';
  return withEngineLock(lockFile(o), 60_000, async () => {
    const record = readRecord(o);
    if (record === undefined) {
      await clearLeftovers(o, undefined);
      return 'no testbed Docker engine was running';
    }
    record.kept = false;
    record.users = liveUsers(record);
    if (record.users.length > 0) {
      writeRecord(o, record);
      return `still used by pid ${record.users.map((u) => u.pid).join(', ')}: the last of them stops it`;
    }
    await shutdown(o, record);
    return `stopped dockerd (pid ${record.pid}) and removed ${record.bridge}`;
  });
}

async function machineEngine(): Promise<DockerEngine | undefined> {
  const fromEnv = process.env.DOCKER_HOST;
  if (fromEnv !== undefined && fromEnv !== '') {
    const answer = await pingDocker(fromEnv);
    if (answer !== true) throw new Error(`DOCKER_HOST=${fromEnv} is set but that engine does not answer: ${answer}`);
    return { host: fromEnv, startedHere: false, owner: 'machine', stop: async () => {} };
  }
  if (existsSync(new URL(SYSTEM_DOCKER_HOST).pathname) && (await pingDocker(SYSTEM_DOCKER_HOST)) === true) {
    return { host: SYSTEM_DOCKER_HOST, startedHere: false, owner: 'machine', stop: async () => {} };
  }
  return undefined;
}

function resolveOptions(options: DockerEngineOptions): Resolved {
  const stateDir = resolve(options.stateDir ?? defaultDockerStateDir());
  const bridge = options.bridge ?? `${DOCKER_BRIDGE_PREFIX}0`;
  if (!bridge.startsWith(DOCKER_BRIDGE_PREFIX) || bridge.length > 15) {
    throw new Error(
      `docker engine bridge "${bridge}": must start with ${DOCKER_BRIDGE_PREFIX} and be at most 15 characters`,
    );
  }
  // Unix socket paths are limited to 108 bytes and containerd nests its sockets under the exec root:
  // run state lives in a short fixed-length path, one per state dir.
  const runDir = `/run/skewless-docker-${bridge.slice(DOCKER_BRIDGE_PREFIX.length) || '0'}`;
  return {
    stateDir,
    runDir,
    bridge,
    bridgeCidr: options.bridgeCidr ?? '10.251.0.1/24',
    addressPool: options.addressPool ?? 'base=10.251.64.0/18,size=24',
    keep: options.keep ?? false,
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
    quiet: options.quiet ?? false,
  };
}

const lockFile = (o: Resolved) => join(o.stateDir, 'engine.lock');
const recordFile = (o: Resolved) => join(o.stateDir, 'engine.json');
const pidFile = (o: Resolved) => join(o.runDir, 'dockerd.pid');
const execRoot = (o: Resolved) => join(o.runDir, 'exec');
const hostOf = (o: Resolved) => `unix://${join(o.runDir, 'docker.sock')}`;

function readRecord(o: Resolved): EngineRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(o), 'utf8')) as EngineRecord;
  } catch {
    return undefined;
  }
}

function writeRecord(o: Resolved, record: EngineRecord): void {
  writeFileSync(recordFile(o), `${JSON.stringify(record, null, 2)}\n`);
}

function liveUsers(record: EngineRecord): EngineRecord['users'] {
  return record.users.filter((user) => isRunning(user.pid));
}

async function release(o: Resolved, token: string): Promise<void> {
  await withEngineLock(lockFile(o), 60_000, async () => {
    const record = readRecord(o);
    if (record === undefined) return;
    record.users = liveUsers(record).filter((user) => user.token !== token);
    if (record.users.length > 0 || record.kept) {
      writeRecord(o, record);
      return;
    }
    await shutdown(o, record);
  });
}

/** Bridge, then dockerd in a process group of its own, then wait until it answers. Undone on failure. */
async function launch(o: Resolved): Promise<number> {
  await step(o, `bridge ${o.bridge} ${o.bridgeCidr}`, () => ensureBridge(o.bridge, o.bridgeCidr));
  mkdirSync(execRoot(o), { recursive: true });
  const logFile = join(o.stateDir, 'dockerd.log');
  const dockerd = startProcessGroup({
    command: 'dockerd',
    args: [
      '--data-root',
      join(o.stateDir, 'data'),
      '--exec-root',
      execRoot(o),
      '--pidfile',
      pidFile(o),
      '--host',
      hostOf(o),
      '--bridge',
      o.bridge,
      '--default-address-pool',
      o.addressPool,
      // Containers talk to this machine over the bridge only: no NAT, no forwarding, no iptables rules.
      '--iptables=false',
      '--ip6tables=false',
      '--ip-masq=false',
      '--ip-forward=false',
    ],
    logFile,
    // dockerd finds containerd, runc and docker-proxy on PATH (Debian puts some in /usr/sbin).
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin` },
  });
  try {
    await step(o, `dockerd (log ${logFile})`, async () => {
      const began = performance.now();
      let state = 'not probed yet';
      let lastProgress = began;
      for (;;) {
        if (dockerd.hasExited()) {
          const status = await dockerd.exited;
          const hint = status.error?.message.includes('ENOENT') ? ': install it with scripts/tools.sh docker' : '';
          throw new Error(`dockerd exited before it answered (${JSON.stringify(status)})${hint}; see ${logFile}`);
        }
        const answer = await pingDocker(hostOf(o), 1000);
        if (answer === true) return;
        state = answer;
        const elapsedMs = performance.now() - began;
        if (elapsedMs > o.startTimeoutMs) {
          throw new Error(
            `dockerd did not answer at ${hostOf(o)} within ${o.startTimeoutMs} ms (${state}); see ${logFile}`,
          );
        }
        if (performance.now() - lastProgress > 5000) {
          lastProgress = performance.now();
          progress(o, `… waiting for dockerd (${(elapsedMs / 1000).toFixed(0)} s: ${state})`);
        }
        await sleep(200);
      }
    });
    return dockerd.pid;
  } catch (error) {
    await dockerd.stop(20_000);
    await deleteBridge(o.bridge).catch(() => {});
    throw error;
  }
}

/** SIGTERM dockerd's group (it stops its containers and containerd), SIGKILL after 30 s; then the bridge. */
async function shutdown(o: Resolved, record: EngineRecord): Promise<void> {
  await step(o, `stop dockerd (pid ${record.pid}) and ${record.bridge}`, async () => {
    // Only the dockerd we recorded: a pid that ended may have been reused by another process.
    if (isRunning(record.pid) && commandLine(record.pid).includes(pidFile(o))) await stopGroup(record.pid, 30_000);
    await stopLeftoverContainerd(o);
    await unmountLeftovers(o);
    await deleteBridge(record.bridge);
    rmSync(recordFile(o), { force: true });
    rmSync(o.runDir, { recursive: true, force: true });
  });
}

/** What a crashed run left: its dockerd (if it no longer answers), containerd, pidfile, socket, bridge. */
async function clearLeftovers(o: Resolved, record: EngineRecord | undefined): Promise<void> {
  const running = [record?.pid, readPid(pidFile(o))].filter(
    (pid): pid is number => pid !== undefined && isRunning(pid) && commandLine(pid).includes(pidFile(o)),
  );
  for (const pid of new Set(running)) {
    // Same bridge and run dir, another data root: another checkout's engine, not ours to stop.
    if (!commandLine(pid).includes(join(o.stateDir, 'data'))) {
      throw new Error(
        `bridge ${o.bridge} and ${o.runDir} are used by another engine (pid ${pid}: ${commandLine(pid)}); ` +
          'give this one another bridge (DockerEngineOptions.bridge)',
      );
    }
    progress(o, `! stopping dockerd pid ${pid} left by an earlier run (it does not answer)`);
    await stopGroup(pid, 10_000);
  }
  await stopLeftoverContainerd(o);
  await unmountLeftovers(o);
  await deleteBridge(o.bridge);
  // dockerd waits for a containerd its pidfile names while that pid exists, even as a zombie.
  rmSync(join(execRoot(o), 'containerd', 'containerd.pid'), { force: true });
  rmSync(pidFile(o), { force: true });
  rmSync(join(o.runDir, 'docker.sock'), { force: true });
  rmSync(recordFile(o), { force: true });
}

/** dockerd stops its containerd on SIGTERM; a SIGKILLed one leaves it running in its own group. */
async function stopLeftoverContainerd(o: Resolved): Promise<void> {
  const pid = readPid(join(execRoot(o), 'containerd', 'containerd.pid'));
  if (pid !== undefined && isRunning(pid) && commandLine(pid).includes(execRoot(o))) {
    progress(o, `! stopping containerd pid ${pid} left by dockerd`);
    await stopGroup(pid, 10_000);
  }
}

async function unmountLeftovers(o: Resolved): Promise<void> {
  const removed = await unmountUnder([join(o.stateDir, 'data'), o.runDir]);
  if (removed > 0) progress(o, `! unmounted ${removed} mount(s) dockerd left under ${o.stateDir} and ${o.runDir}`);
}

async function stopGroup(pid: number, graceMs: number): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = performance.now() + graceMs;
  while (isRunning(pid) && performance.now() < deadline) await sleep(100);
  if (!isRunning(pid)) return;
  signalGroup(pid, 'SIGKILL');
  while (isRunning(pid)) await sleep(100);
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function progress(o: Resolved, line: string): void {
  if (!o.quiet) process.stderr.write(`[docker] ${line}\n`);
}

async function step<T>(o: Resolved, name: string, run: () => Promise<T>): Promise<T> {
  const began = performance.now();
  progress(o, `▸ ${name} …`);
  try {
    const result = await run();
    progress(o, `✓ ${name} ${((performance.now() - began) / 1000).toFixed(1)} s`);
    return result;
  } catch (error) {
    progress(o, `✗ ${name} failed after ${((performance.now() - began) / 1000).toFixed(1)} s`);
    throw error;
  }
}
