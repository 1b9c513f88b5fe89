import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { createLogger } from '@skewless/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalApiServer, startLocalApiServer } from '../src/apiserver/local-apiserver.ts';

const logger = createLogger('local-apiserver-test', process.env.SKEWLESS_LOG_LEVEL ?? 'warn');

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidsIn(dir: string): number[] {
  const record = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as {
    groups: { pid: number }[];
  };
  return record.groups.map((g) => g.pid);
}

describe('startLocalApiServer', () => {
  let server: LocalApiServer;

  beforeAll(async () => {
    server = await startLocalApiServer({ logger });
    console.info(`kube-apiserver ready ${server.startupMs} ms after spawn`);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves the Kubernetes API on loopback to an admin kubeconfig that verifies TLS', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const api = server.kubeConfig.makeApiClient(CoreV1Api);
    const namespaces = await api.listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).toContain('default');
    expect(server.kubeConfig.getCurrentCluster()?.skipTLSVerify).toBeFalsy();
  });

  it('keeps its data and port through an API-server restart', async () => {
    const api = server.kubeConfig.makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: 'survives-restart' } } });
    await server.stopApiServer();
    await expect(api.listNamespace()).rejects.toThrow();
    const readyMs = await server.restartApiServer();
    expect(readyMs).toBeGreaterThan(0);
    const namespace = await api.readNamespace({ name: 'survives-restart' });
    expect(namespace.metadata?.name).toBe('survives-restart');
  });

  it('stops every process it started and removes its temp dir', async () => {
    const pids = pidsIn(server.dir);
    expect(pids.some(isRunning)).toBe(true);
    await server.stop();
    expect(pids.filter(isRunning)).toEqual([]);
    expect(existsSync(server.dir)).toBe(false);
  });
});

describe('startLocalApiServer without tools', () => {
  it('fails with a message that names `make tools`', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'skewless-no-tools-'));
    const saved = process.env.SKEWLESS_TOOLS_DIR;
    process.env.SKEWLESS_TOOLS_DIR = empty;
    try {
      await expect(startLocalApiServer({ logger })).rejects.toThrow(/kube-apiserver is not installed .*make tools/);
    } finally {
      if (saved === undefined) delete process.env.SKEWLESS_TOOLS_DIR;
      else process.env.SKEWLESS_TOOLS_DIR = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
