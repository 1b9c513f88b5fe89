/**
 * The testbed's own Docker engine, for real: Debian's dockerd on a bridge of its own (skl-docker9,
 * 10.251.9.1/24, a state dir in a temp dir — apart from the engine `make images` and the image test
 * share), shared by reference, cleared after a crash, and never stopped when it is the machine's.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { signalGroup } from '../src/apiserver/process-group.ts';
import { bridgeExists } from '../src/docker/docker-bridge.ts';
import {
  type DockerEngine,
  type DockerEngineOptions,
  startDockerEngine,
  stopKeptDockerEngine,
} from '../src/docker/docker-engine.ts';
import { mountsUnder } from '../src/docker/docker-mounts.ts';
import { pingDocker } from '../src/docker/docker-ping.ts';
import { isRunning } from '../src/docker/docker-processes.ts';

const run = promisify(execFile);
const stateDir = mkdtempSync(join(tmpdir(), 'skewless-docker-test-'));
const options: DockerEngineOptions = {
  stateDir,
  bridge: 'skl-docker9',
  bridgeCidr: '10.251.9.1/24',
  addressPool: 'base=10.251.16.0/20,size=24',
  reuseExisting: false,
  quiet: true,
};
const handles: DockerEngine[] = [];

async function start(extra: DockerEngineOptions = {}): Promise<DockerEngine> {
  const engine = await startDockerEngine({ ...options, ...extra });
  handles.push(engine);
  return engine;
}

function recordedPid(): number {
  return (JSON.parse(readFileSync(join(stateDir, 'engine.json'), 'utf8')) as { pid: number }).pid;
}

afterAll(async () => {
  for (const engine of handles) await engine.stop();
  // A crashed-on-purpose engine, or one a failed assertion left: whatever still runs is stopped here.
  await stopKeptDockerEngine(options);
  rmSync(stateDir, { recursive: true, force: true });
}, 120_000);

describe('the testbed Docker engine', () => {
  it('is shared by two holders and stopped, bridge and all, by the last one out', async () => {
    const first = await start();
    const second = await start();
    expect(first).toMatchObject({
      startedHere: true,
      owner: 'testbed',
      host: 'unix:///run/skewless-docker-9/docker.sock',
    });
    expect(second).toMatchObject({ startedHere: false, owner: 'testbed', host: first.host });
    const pid = recordedPid();
    expect(await pingDocker(first.host)).toBe(true);
    expect(await bridgeExists('skl-docker9')).toBe(true);
    const { stdout } = await run('docker', ['info', '--format', '{{.Driver}} {{.DockerRootDir}}'], {
      env: { ...process.env, DOCKER_HOST: first.host },
    });
    expect(stdout.trim()).toBe(`overlay2 ${join(stateDir, 'data')}`);

    await first.stop();
    expect(await pingDocker(first.host)).toBe(true);
    await second.stop();
    expect(await pingDocker(first.host)).not.toBe(true);
    expect(isRunning(pid)).toBe(false);
    expect(await bridgeExists('skl-docker9')).toBe(false);
    expect(existsSync('/run/skewless-docker-9')).toBe(false);
    expect(mountsUnder([stateDir])).toEqual([]);
  });

  it("clears a crashed run's dockerd, pidfile and bridge, then starts afresh", async () => {
    const crashed = await start();
    const crashedPid = recordedPid();
    signalGroup(crashedPid, 'SIGKILL');
    await expect.poll(() => isRunning(crashedPid)).toBe(false);
    expect(await bridgeExists('skl-docker9')).toBe(true);
    expect(existsSync('/run/skewless-docker-9/dockerd.pid')).toBe(true);

    const fresh = await start();
    expect(fresh.startedHere).toBe(true);
    expect(recordedPid()).not.toBe(crashedPid);
    expect(await pingDocker(fresh.host)).toBe(true);
    await crashed.stop(); // the dead holder's reference: dropping it must not stop the fresh engine
    expect(await pingDocker(fresh.host)).toBe(true);
    await fresh.stop();
    expect(await bridgeExists('skl-docker9')).toBe(false);
    // The killed dockerd's self-bind-mount of its data root is gone too (unmounted at the fresh start).
    expect(mountsUnder([stateDir])).toEqual([]);
  });

  it('uses the engine DOCKER_HOST names and never stops it', async () => {
    const ours = await start();
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = ours.host;
    try {
      const machine = await startDockerEngine({ ...options, reuseExisting: true });
      expect(machine).toMatchObject({ owner: 'machine', startedHere: false, host: ours.host });
      await machine.stop();
      expect(await pingDocker(ours.host)).toBe(true);
      process.env.DOCKER_HOST = 'unix:///run/skewless-docker-9/nothing.sock';
      await expect(startDockerEngine({ ...options, reuseExisting: true })).rejects.toThrow(
        /DOCKER_HOST=unix:\/\/\/run\/skewless-docker-9\/nothing\.sock is set but that engine does not answer/,
      );
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
    await ours.stop();
  });

  it('keeps an engine started with keep until stopKeptDockerEngine, which stops it', async () => {
    const kept = await start({ keep: true });
    await kept.stop();
    expect(await pingDocker(kept.host)).toBe(true);
    expect(await stopKeptDockerEngine(options)).toMatch(/^stopped dockerd \(pid \d+\) and removed skl-docker9$/);
    expect(await pingDocker(kept.host)).not.toBe(true);
    expect(await bridgeExists('skl-docker9')).toBe(false);
  });
});
