/**
 * The images `make images` builds, for real: scripts/images.sh on a real Docker engine (the machine's
 * if one answers, else the testbed's own dockerd, started and stopped here), then the backend image
 * started with testcontainers and called over gRPC and HTTP, the load image driving it, and the
 * control-plane image loading its modules — all as the non-root user 65532.
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { type EchoClient, type EchoReply, echoGrpc } from '@skewless/shared';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DockerEngine, startDockerEngine } from '../src/docker/docker-engine.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../..');
const IMAGES = ['skewless/control-plane:dev', 'skewless/backend:dev', 'skewless/load:dev'] as const;
const IDENTITY = { pod: 'backend-in-docker', zone: 'zone-d', node: 'docker-node' };

let engine: DockerEngine | undefined;
let backend: StartedTestContainer | undefined;
const clients: grpc.Client[] = [];

async function docker(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  if (engine === undefined) throw new Error('no Docker engine (beforeAll failed)');
  return run('docker', args, { env: { ...process.env, DOCKER_HOST: engine.host }, maxBuffer: 16 * 1024 * 1024 });
}

async function imageExists(image: string): Promise<boolean> {
  return docker(['image', 'inspect', image]).then(
    () => true,
    () => false,
  );
}

/** scripts/images.sh as `make images` runs it; its [images] lines (steps, sizes) are echoed, the rest kept for errors. */
async function buildImages(host: string): Promise<void> {
  const output: string[] = [];
  const child = spawn(path.join(repoRoot, 'scripts/images.sh'), [], {
    cwd: repoRoot,
    env: { ...process.env, DOCKER_HOST: host },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue;
      output.push(line);
      if (line.startsWith('[images]')) process.stderr.write(`${line}\n`);
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`scripts/images.sh exited ${code}:\n${output.slice(-40).join('\n')}`);
}

function echo(client: EchoClient, message: string): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    client.Echo({ message }, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (error, reply) =>
      error || reply === undefined ? reject(error ?? new Error('no reply')) : resolve(reply),
    );
  });
}

beforeAll(async () => {
  engine = await startDockerEngine();
  const missing: string[] = [];
  for (const image of IMAGES) if (!(await imageExists(image))) missing.push(image);
  process.stderr.write(
    `[images.test] engine ${engine.host} (${engine.owner}${engine.startedHere ? ', started here' : ''}); ` +
      `${missing.length > 0 ? `missing: ${missing.join(', ')}` : 'all three images present'} — ` +
      'running scripts/images.sh (Docker’s layer cache rebuilds only what changed)\n',
  );
  await buildImages(engine.host);
  // testcontainers reads these when it first connects. Ryuk (its reaper) is an image we cannot pull;
  // afterAll removes what we start. Inside a container (/.dockerenv) it would address mapped ports
  // via the bridge gateway: keep that traffic on loopback.
  vi.stubEnv('DOCKER_HOST', engine.host);
  vi.stubEnv('TESTCONTAINERS_RYUK_DISABLED', 'true');
  vi.stubEnv('TESTCONTAINERS_HOST_OVERRIDE', '127.0.0.1');
}, 900_000);

afterAll(async () => {
  for (const client of clients.splice(0)) client.close();
  try {
    await backend?.stop({ timeout: 5_000 });
  } finally {
    vi.unstubAllEnvs();
    await engine?.stop();
  }
}, 120_000);

describe('the images', () => {
  it('run as the non-root user 65532, and say how big they are', async () => {
    const sizes: string[] = [];
    for (const image of IMAGES) {
      const { stdout } = await docker(['image', 'inspect', '--format', '{{.Config.User}} {{.Size}}', image]);
      const [user, bytes] = stdout.trim().split(' ');
      expect(user, image).toBe('65532:65532');
      sizes.push(`${image} ${Math.round(Number(bytes) / 1e6)} MB`);
    }
    process.stderr.write(`[images.test] ${sizes.join(', ')}\n`);
  });

  it('backend: a testcontainers container answers Echo over gRPC and GET /whoami with the identity it was given', async () => {
    backend = await new GenericContainer('skewless/backend:dev')
      .withEnvironment({ POD_NAME: IDENTITY.pod, ZONE: IDENTITY.zone, NODE_NAME: IDENTITY.node, DRAIN_DELAY_MS: '0' })
      .withExposedPorts(50051, 9090)
      .withWaitStrategy(Wait.forHttp('/readyz', 9090).forStatusCode(200))
      .withStartupTimeout(60_000)
      .start();
    const host = backend.getHost();
    const client = new (echoGrpc().Client)(
      `${host}:${backend.getMappedPort(50051)}`,
      grpc.credentials.createInsecure(),
    );
    clients.push(client);
    expect(await echo(client, 'hello from the test')).toEqual({ message: 'hello from the test', ...IDENTITY });

    const response = await fetch(`http://${host}:${backend.getMappedPort(9090)}/whoami`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(IDENTITY);

    // Not only the image's metadata: the process inside really runs as 65532.
    const uid = await backend.exec(['/nodejs/bin/node', '-p', 'process.getuid() + ":" + process.getgid()']);
    expect(uid.output.trim()).toBe('65532:65532');
  });

  it('load: drives the backend container over the bridge and counts every reply from its pod', async () => {
    if (backend === undefined) throw new Error('the backend container did not start (see the test above)');
    const target = `${backend.getIpAddress('bridge')}:50051`;
    const { stdout } = await docker([
      'run',
      '--rm',
      'skewless/load:dev',
      'load',
      '--mode',
      'pick-first',
      '--target',
      target,
      '--rate',
      '50',
      '--duration-s',
      '2',
      '--log-level',
      'warn',
    ]);
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as {
      totals: { requests: number; errors: number };
      perPod: { pod: string; zone: string; requests: number }[];
    };
    expect(result.totals.requests).toBeGreaterThan(0);
    expect(result.totals.errors).toBe(0);
    expect(result.perPod).toEqual([
      expect.objectContaining({ pod: IDENTITY.pod, zone: IDENTITY.zone, requests: result.totals.requests }),
    ]);
  });

  it('load and control-plane: answer --help with their own options', async () => {
    const load = await docker(['run', '--rm', 'skewless/load:dev', 'load', '--help']);
    expect(load.stdout).toMatch(/Drive open-loop gRPC Echo load/);
    expect(load.stdout).toMatch(/--target <uri>/);
    const controlPlane = await docker(['run', '--rm', 'skewless/control-plane:dev', 'control-plane', '--help']);
    expect(controlPlane.stdout).toMatch(/Run the Endpoint Discovery Service/);
    expect(controlPlane.stdout).toMatch(/--xds-address <host:port>/);
  });

  it('control-plane: loads the control plane (imported only when it runs) and rejects a bad flag by name', async () => {
    const outcome = await docker([
      'run',
      '--rm',
      'skewless/control-plane:dev',
      'control-plane',
      '--batch-window-ms',
      '-5',
    ]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    expect(outcome).toEqual({ code: 2, stderr: expect.stringMatching(/invalid configuration:\n\s+batchWindowMs: /) });
  });
});
