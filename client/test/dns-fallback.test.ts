/**
 * The DNS fallback: used only while the control plane has never answered. DNS is a fake here
 * (no query may leave the machine); the backends and the calls are real.
 */
import * as grpc from '@grpc/grpc-js';
import { echoGrpc } from '@skewless/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { type DnsLookup, resolveHeadlessService } from '../src/dns-fallback.ts';
import { debugSnapshot, register } from '../src/index.ts';
import { type Backend, startBackend } from './backends.ts';
import { silentLogger } from './control-plane-fixture.ts';
import { drive } from './load-driver.ts';

function fakeDns(records: {
  srv?: Record<string, { name: string; port: number }[]>;
  a?: Record<string, string[]>;
}): DnsLookup {
  const missing = (name: string) =>
    Promise.reject(Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' }));
  return {
    resolveSrv: (name) => (records.srv?.[name] ? Promise.resolve(records.srv[name]) : missing(name)),
    resolve4: (name) => (records.a?.[name] ? Promise.resolve(records.a[name]) : missing(name)),
    resolve6: (name) => missing(name),
  };
}

describe('DNS fallback', () => {
  it('resolves a named port through SRV and a numeric port through A records', async () => {
    const dns = fakeDns({
      srv: {
        '_grpc._tcp.backend.default.svc.cluster.local': [{ name: 'p1.backend.default.svc.cluster.local', port: 8080 }],
      },
      a: {
        'p1.backend.default.svc.cluster.local': ['10.0.0.7'],
        'backend.default.svc.cluster.local': ['10.0.0.7', '10.0.0.8'],
      },
    });
    const named = await resolveHeadlessService(
      { namespace: 'default', service: 'backend', port: 'grpc' },
      'cluster.local',
      dns,
    );
    expect(named.map((e) => e.key)).toEqual(['10.0.0.7:8080']);
    const numbered = await resolveHeadlessService(
      { namespace: 'default', service: 'backend', port: '9000' },
      'cluster.local',
      dns,
    );
    expect(numbered.map((e) => e.key)).toEqual(['10.0.0.7:9000', '10.0.0.8:9000']);
    await expect(
      resolveHeadlessService({ namespace: 'x', service: 'y', port: '1' }, 'cluster.local', dns),
    ).rejects.toThrow(/no addresses/);
  });

  const closers: (() => unknown)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('serves from DNS when the control plane never answered', async () => {
    const backends: Backend[] = [await startBackend('d-0', ''), await startBackend('d-1', '')];
    closers.push(() => Promise.all(backends.map((b) => b.close())));
    // A port nothing listens on: the control plane is unreachable from the start.
    const probe = await startBackend('probe', '');
    const deadPort = probe.port;
    await probe.close();
    const dns = fakeDns({
      srv: {
        '_grpc._tcp.backend.default.svc.cluster.local': backends.map((b) => ({ name: 'loopback.test', port: b.port })),
      },
      a: { 'loopback.test': ['127.0.0.1'] },
    });
    const registration = register(
      {
        controlPlane: `127.0.0.1:${deadPort}`,
        dnsFallback: { enabled: true, afterMs: 0 },
        xds: { initialBackoffMs: 50, maxBackoffMs: 200 },
      },
      { logger: silentLogger, dns },
    );
    closers.push(() => registration.close());
    const client = new (echoGrpc().Client)('skewless:///default/backend:grpc', grpc.credentials.createInsecure());
    closers.push(() => client.close());
    const result = await drive([client], { perClient: 200, concurrency: 4, maxMs: 20_000, deadlineMs: 5_000 });
    expect(result.failures).toEqual([]);
    expect(backends.every((b) => b.calls > 0)).toBe(true);
    expect(debugSnapshot().balancers.find((b) => b.service === 'default/backend:grpc')?.source).toBe('dns-fallback');
  });
});
