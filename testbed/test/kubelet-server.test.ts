/**
 * The node agent's kubelet API on its own: real TLS with certificates from a real cluster PKI (openssl),
 * a real log file, and a pod that is only what the server asks of it (names, byte offsets, running or not).
 * The same server behind a real API server is tested in local-cluster-logs.test.ts.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@skewless/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CertPair, type ClusterPki, createClusterPki } from '../src/cluster/pki.ts';
import {
  type PodLogs,
  parseLogQuery,
  type RunningKubeletServer,
  startKubeletServer,
  tailStart,
} from '../src/node-agent/kubelet-server.ts';
import type { ContainerLog } from '../src/node-agent/pod-runner.ts';

const logger = createLogger('kubelet-server-test', process.env.SKEWLESS_LOG_LEVEL ?? 'warn');
const API_SERVER_USER = 'kube-apiserver-kubelet-client';

let dir: string;
let pki: ClusterPki;
let apiServerCert: CertPair;
let server: RunningKubeletServer;
let startServer: () => Promise<RunningKubeletServer>;
let logFile: string;
/** What the fake pod reports; tests change it as a runner would. */
let app: { currentStart: number | undefined; previousStart: number | undefined; running: boolean };

const pod: PodLogs = {
  containerNames: ['app'],
  logOf(container): ContainerLog | undefined {
    if (container !== 'app') return undefined;
    return { file: logFile, ...app, waitingReason: app.currentStart === undefined ? 'ErrImagePull' : undefined };
  },
};

interface Answer {
  status: number;
  type: string;
  body: string;
}

interface GetOptions {
  /** Default: the API server's kubelet client; null sends no certificate. */
  readonly client?: CertPair | null;
  readonly onData?: (bodySoFar: string) => void;
  readonly port?: number;
}

function get(path: string, { client = apiServerCert, onData, port = server.port }: GetOptions = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        ca: readFileSync(pki.caFile),
        servername: 'local-zone-a',
        ...(client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          onData?.(body);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubelet-server-'));
  pki = await createClusterPki(join(dir, 'pki'), { apiserverIps: ['127.0.0.1'], apiserverNames: ['localhost'] });
  apiServerCert = await pki.issueClient('apiserver-kubelet-client', { user: API_SERVER_USER, groups: [] });
  const serving = await pki.issueServing(
    'kubelet-local-zone-a',
    { user: 'system:node:local-zone-a', groups: ['system:nodes'] },
    { ips: ['127.0.0.1'], names: ['local-zone-a'] },
  );
  logFile = join(dir, 'skewless_web_app.log');
  // An earlier attempt, then the current one (started at byte 14), still running.
  writeFileSync(logFile, 'old attempt 1\nline 1\nline 2\nline 3\n');
  app = { previousStart: 0, currentStart: 14, running: true };
  startServer = () =>
    startKubeletServer({
      nodeName: 'local-zone-a',
      host: '127.0.0.1',
      port: 0,
      certFile: serving.certFile,
      keyFile: serving.keyFile,
      clientCaFile: pki.caFile,
      allowedUsers: [API_SERVER_USER],
      findPod: (namespace, name) => (namespace === 'skewless' && name === 'web' ? pod : undefined),
      logger,
      followPollMs: 20,
    });
  server = await startServer();
});

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('GET /containerLogs', () => {
  it('serves the current attempt of the container, not the earlier one', async () => {
    const answer = await get('/containerLogs/skewless/web/app');
    expect(answer).toMatchObject({ status: 200, body: 'line 1\nline 2\nline 3\n' });
    expect(answer.type).toMatch(/^text\/plain/);
  });

  it('serves the earlier attempt with previous=true', async () => {
    expect((await get('/containerLogs/skewless/web/app?previous=true')).body).toBe('old attempt 1\n');
  });

  it('keeps the last tailLines lines, then at most limitBytes bytes', async () => {
    expect((await get('/containerLogs/skewless/web/app?tailLines=2')).body).toBe('line 2\nline 3\n');
    expect((await get('/containerLogs/skewless/web/app?tailLines=0')).body).toBe('');
    expect((await get('/containerLogs/skewless/web/app?tailLines=99')).body).toBe('line 1\nline 2\nline 3\n');
    expect((await get('/containerLogs/skewless/web/app?limitBytes=9')).body).toBe('line 1\nli');
    expect((await get('/containerLogs/skewless/web/app?tailLines=1&limitBytes=4&timestamps=false')).body).toBe('line');
  });

  it('follows the running container until it stops', async () => {
    let seen = '';
    const answer = get('/containerLogs/skewless/web/app?follow=true&tailLines=1', {
      onData: (text) => {
        seen = text;
      },
    });
    await expect.poll(() => seen).toBe('line 3\n');
    appendFileSync(logFile, 'line 4\n');
    await expect.poll(() => seen).toBe('line 3\nline 4\n');
    // The last line is written just before the container exits: it still arrives, then the stream ends.
    appendFileSync(logFile, 'line 5\n');
    app = { ...app, running: false };
    expect((await answer).body).toBe('line 3\nline 4\nline 5\n');
    app = { ...app, running: true };
  });

  it('answers 404 with a Status for a pod or container it does not run', async () => {
    const noPod = await get('/containerLogs/skewless/gone/app');
    expect(noPod.status).toBe(404);
    expect(noPod.type).toBe('application/json');
    expect(JSON.parse(noPod.body)).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
      message: 'pod "skewless/gone" is not running on node local-zone-a',
    });
    const noContainer = JSON.parse((await get('/containerLogs/skewless/web/sidecar')).body);
    expect(noContainer.message).toBe('container "sidecar" not found in pod "skewless/web" (containers: app)');
  });

  it('answers 400 naming every parameter it does not support', async () => {
    const answer = await get(
      '/containerLogs/skewless/web/app?timestamps=true&sinceSeconds=5&stream=Stdout&tailLines=-1',
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('tailLines=-1: must be an integer ≥ 0');
    expect(answer.body).toContain('timestamps=true: not supported');
    expect(answer.body).toContain('sinceSeconds: not supported');
    expect(answer.body).toContain('stream=Stdout: not supported');
  });

  it('answers 400 as a kubelet does for a container that never started', async () => {
    const saved = app;
    app = { currentStart: undefined, previousStart: undefined, running: false };
    const answer = await get('/containerLogs/skewless/web/app');
    app = saved;
    expect(answer).toMatchObject({
      status: 400,
      body: 'container "app" in pod "web" is waiting to start: ErrImagePull',
    });
  });
});

describe('who may call it', () => {
  it('refuses a certificate from the cluster CA for any other user', async () => {
    const admin = await pki.issueClient('admin', { user: 'skewless-admin', groups: ['system:masters'] });
    const answer = await get('/containerLogs/skewless/web/app', { client: admin });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('user=skewless-admin');
  });

  it('refuses a client without a certificate at the TLS handshake', async () => {
    await expect(get('/containerLogs/skewless/web/app', { client: null })).rejects.toThrow();
  });
});

describe('close()', () => {
  it('ends open follow streams and stops listening', async () => {
    const other = await startServer();
    let seen = '';
    const answer = get('/containerLogs/skewless/web/app?follow=true&tailLines=1', {
      port: other.port,
      onData: (text) => {
        seen = text;
      },
    });
    await expect.poll(() => seen).not.toBe('');
    await other.close();
    expect((await answer).status).toBe(200);
    await expect(get('/containerLogs/skewless/web/app', { port: other.port })).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('parseLogQuery and tailStart', () => {
  it('reads booleans as Go does and ignores parameters it does not know', () => {
    expect(parseLogQuery(new URLSearchParams('follow=1&previous=False&pretty=true'))).toEqual({
      ok: true,
      options: { follow: true, previous: false, tailLines: undefined, limitBytes: undefined },
    });
    expect(parseLogQuery(new URLSearchParams('follow=yes&limitBytes=0'))).toEqual({
      ok: false,
      problems: ['follow=yes: not a boolean', 'limitBytes=0: must be an integer ≥ 1'],
    });
  });

  it('counts a last line without its newline as a line', () => {
    const text = Buffer.from('a\nb\nc');
    expect(text.subarray(tailStart(text, 1)).toString()).toBe('c');
    expect(text.subarray(tailStart(text, 2)).toString()).toBe('b\nc');
    expect(tailStart(Buffer.from(''), 3)).toBe(0);
  });
});
