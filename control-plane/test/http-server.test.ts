import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type StartedHttpServer, splitHostPort, startHttpServer } from '../src/http-server.ts';

describe('control-plane HTTP endpoints', () => {
  let server: StartedHttpServer | undefined;
  afterEach(async () => server?.close());

  async function get(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${server?.port}${path}`);
    return { status: res.status, body: await res.text() };
  }

  it('reports ready only when every check passes, naming the ones that fail', async () => {
    let synced = false;
    const registry = new Registry();
    server = await startHttpServer('127.0.0.1:0', {
      registry,
      readiness: { kubernetes: () => (synced ? null : 'informers not synced'), xds: () => null },
    });
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get('/readyz')).toEqual({ status: 503, body: 'kubernetes: informers not synced\n' });
    synced = true;
    expect((await get('/readyz')).status).toBe(200);
  });

  it('serves the registry in Prometheus text format', async () => {
    const registry = new Registry();
    new Counter({ name: 'skewless_test_total', help: 'test', registers: [registry] }).inc(3);
    server = await startHttpServer('127.0.0.1:0', { registry, readiness: {} });
    const { status, body } = await get('/metrics');
    expect(status).toBe(200);
    expect(body).toContain('skewless_test_total 3');
    expect((await get('/nope')).status).toBe(404);
  });

  it('splits IPv4 and bracketed IPv6 addresses', () => {
    expect(splitHostPort('0.0.0.0:9090')).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(splitHostPort('[::1]:18000')).toEqual({ host: '::1', port: 18000 });
  });
});
