/**
 * The kind driver's code path against the real kind binary and a Docker engine of the test's own, up to
 * where a real cluster needs the node image: no registry here, so the image points at a loopback registry
 * that refuses at once. start() must fail there naming the image and tear everything down (or keep it
 * when asked); the leftover sweep must delete what crashed runs left and nothing live.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@skewless/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type KindCli, kindCli } from '../src/cluster/kind/kind-cli.ts';
import { kindClusterDriver } from '../src/cluster/kind/kind-driver.ts';
import { type KindRecord, sweepKindClusters, writeKindRecord } from '../src/cluster/kind/kind-leftovers.ts';
import { pinnedVersion } from '../src/cluster/kind/kind-options.ts';
import { indexRunDir } from '../src/cluster/run-index.ts';
import { type PrivateDockerEngine, startPrivateDockerEngine } from './private-docker-engine.ts';

const logger = createLogger('kind-driver-test', process.env.SKEWLESS_LOG_LEVEL ?? 'warn');
const UNREACHABLE_IMAGE = `127.0.0.1:1/${pinnedVersion('KIND_NODE_IMAGE')}`;
const SPEC = { zones: ['zone-a', 'zone-b', 'zone-c'], region: 'region-1', keepOnFailure: false };

let engine: PrivateDockerEngine;
let cli: KindCli;
const dir = mkdtempSync(join(tmpdir(), 'skewless-kind-driver-'));
beforeAll(async () => {
  engine = await startPrivateDockerEngine(logger);
  cli = kindCli({ dockerHost: engine.host });
});
afterAll(async () => {
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function containers(): Promise<string[]> {
  const result = await cli.docker(['ps', '--all', '--format', '{{.Names}}']);
  expect(result.code).toBe(0);
  return result.stdout.split('\n').filter((line) => line !== '');
}

/** A kind driver on the test's engine whose node image points at a loopback registry that refuses. */
function withoutNodeImage(parentDir: string, spec: typeof SPEC) {
  return kindClusterDriver({
    parentDir,
    dockerHost: engine.host,
    nodeImage: UNREACHABLE_IMAGE,
    progress: false,
    logger,
  }).configure(spec);
}

describe('kind driver start() without a node image', () => {
  it.concurrent('fails at `kind create cluster` naming the image, and deletes what it made', async ({ expect }) => {
    const parentDir = join(dir, 'start-fails');
    const configured = withoutNodeImage(parentDir, SPEC);
    const error = await configured.start().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/^`kind create cluster --name skewless-[0-9a-f]{6} --config /);
    expect(error?.message).toContain(`ERROR: failed to create cluster: failed to pull image "${UNREACHABLE_IMAGE}"`);
    expect(error?.message).toContain('connection refused');
    // The run dir (config, kubeconfig, record) is gone; kind has nothing; the engine has no container.
    expect(readdirSync(parentDir)).toEqual([]);
    expect((await cli.getClusters()).filter((name) => name.startsWith('skewless-'))).toEqual([]);
    expect(await containers()).toEqual([]);
  });

  it.concurrent('keeps the run dir with its config and a kept record when keepOnFailure is set', async ({ expect }) => {
    const parentDir = join(dir, 'keep-on-failure');
    const configured = withoutNodeImage(parentDir, { ...SPEC, keepOnFailure: true });
    await expect(configured.start()).rejects.toThrow(`failed to pull image "${UNREACHABLE_IMAGE}"`);
    const runDirs = readdirSync(parentDir);
    expect(runDirs).toHaveLength(1);
    const runDir = join(parentDir, runDirs[0] ?? '');
    const record = JSON.parse(readFileSync(join(runDir, 'cluster.json'), 'utf8')) as KindRecord;
    expect(record).toMatchObject({ ownerPid: process.pid, kept: true, dockerHost: engine.host });
    const config = parse(readFileSync(join(runDir, 'kind-config.yaml'), 'utf8'));
    expect(config.name).toBe(record.name);
    expect(config.nodes).toHaveLength(4);
    expect(readFileSync(join(runDir, 'kind-create.log'), 'utf8')).toContain('--retain');
  });
});

describe('kind leftover sweep', () => {
  /** A node container as kind labels it (kind lists clusters by this label): what a crashed run leaves. */
  async function fakeNode(cluster: string): Promise<void> {
    const created = await cli.docker([
      'create',
      '--name',
      `${cluster}-worker`,
      '--label',
      `io.x-k8s.kind.cluster=${cluster}`,
      '--label',
      'io.x-k8s.kind.role=worker',
      'skewless-test/empty:1',
      '/none',
    ]);
    expect(created.stderr).toBe('');
  }

  function runDir(parent: string, run: string, record: Omit<KindRecord, 'dockerHost'> | undefined): string {
    const path = join(parent, `kind-${run}`);
    mkdirSync(path, { recursive: true });
    if (record) writeKindRecord(path, { ...record, dockerHost: engine.host });
    return path;
  }

  it('deletes clusters of dead or unknown owners, keeps live and kept ones (also another checkout’s), and never touches others', async () => {
    // An empty root filesystem (a 1 KiB tar of zeros is an empty archive): containers are created, never run.
    const emptyTar = join(dir, 'empty.tar');
    writeFileSync(emptyTar, Buffer.alloc(1024));
    expect((await cli.docker(['import', emptyTar, 'skewless-test/empty:1'])).code).toBe(0);
    const deadPid = spawnSync('true').pid ?? 0;
    const parent = join(dir, 'sweep');
    const dead = runDir(parent, 'dead01', { name: 'skewless-dead01', ownerPid: deadPid, kept: false });
    const live = runDir(parent, 'a11ve1', { name: 'skewless-a11ve1', ownerPid: process.pid, kept: false });
    const kept = runDir(parent, 'c0ffee', { name: 'skewless-c0ffee', ownerPid: deadPid, kept: true });
    // Two clusters of another checkout on the same engine, known only through the machine-wide index:
    // one whose run is alive, one whose run died.
    const indexDir = join(dir, 'kind-index');
    const otherCheckout = join(dir, 'other-checkout');
    indexRunDir(
      indexDir,
      'skewless-0b0b0b',
      runDir(otherCheckout, '0b0b0b', { name: 'skewless-0b0b0b', ownerPid: process.pid, kept: false }),
    );
    indexRunDir(
      indexDir,
      'skewless-0c0c0c',
      runDir(otherCheckout, '0c0c0c', { name: 'skewless-0c0c0c', ownerPid: deadPid, kept: false }),
    );
    for (const name of [
      'skewless-dead01',
      'skewless-a11ve1',
      'skewless-c0ffee',
      'skewless-0a0a0a',
      'skewless-0b0b0b',
      'skewless-0c0c0c',
      'someone-else',
    ])
      await fakeNode(name);

    const deleted = await sweepKindClusters(parent, cli, logger, { includeKept: false, indexDir });
    expect(deleted.sort()).toEqual(['skewless-0a0a0a', 'skewless-0c0c0c', 'skewless-dead01']);
    expect((await cli.getClusters()).sort()).toEqual([
      'skewless-0b0b0b',
      'skewless-a11ve1',
      'skewless-c0ffee',
      'someone-else',
    ]);
    expect(existsSync(join(indexDir, 'skewless-0c0c0c'))).toBe(false);
    expect(existsSync(join(indexDir, 'skewless-0b0b0b'))).toBe(true);
    // An entry whose run dir is gone (a deleted clone) names no live run: the next sweep drops it.
    indexRunDir(indexDir, 'skewless-0d0d0d', join(dir, 'deleted-clone', 'kind-0d0d0d'));
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(kept)).toBe(true);

    // make cluster-down: kept ones go too; a live run's cluster and someone else's stay.
    expect(await sweepKindClusters(parent, cli, logger, { includeKept: true, indexDir })).toEqual(['skewless-c0ffee']);
    expect((await cli.getClusters()).sort()).toEqual(['skewless-0b0b0b', 'skewless-a11ve1', 'someone-else']);
    expect(readdirSync(indexDir)).toEqual(['skewless-0b0b0b']);
    expect(existsSync(kept)).toBe(false);
  });
});
