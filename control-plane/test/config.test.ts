import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config.ts';

const fixtures = path.join(import.meta.dirname, 'fixtures/config');
const files = readdirSync(fixtures);

describe('control-plane config', () => {
  it.each(files.filter((f) => f.startsWith('valid-')))('accepts %s', (file) => {
    const result = loadConfig({ file: path.join(fixtures, file) });
    expect(result.ok, JSON.stringify(result)).toBe(true);
  });

  it.each(files.filter((f) => f.startsWith('invalid-')))('rejects %s with at least one located problem', (file) => {
    const result = loadConfig({ file: path.join(fixtures, file) });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems.length).toBeGreaterThan(0);
      for (const problem of result.problems) expect(problem.path).not.toBe('');
    }
  });

  it('lists every problem with its path, not just the first', () => {
    const result = loadConfig({ file: path.join(fixtures, 'invalid-many.json') });
    if (result.ok) throw new Error('expected problems');
    const paths = result.problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'namespaces[0]',
        'xdsAddress',
        'batchWindowMs',
        'ingress.routes[0].service',
        'ingress.host',
        'ingress.routes[1].match',
        'logLevel',
        '(root)',
      ]),
    );
    expect(result.problems.find((p) => p.path === 'ingress.routes[0].service')?.message).toMatch(/<namespace>/);
    expect(result.problems.find((p) => p.path === '(root)')?.message).toMatch(/colour/);
  });

  it("reads ingress TLS as two absolute paths in Envoy's filesystem, and names each bad key", () => {
    const good = loadConfig({ file: path.join(fixtures, 'valid-ingress-tls.json') });
    if (!good.ok) throw new Error(JSON.stringify(good.problems));
    expect(good.config.ingress?.tls).toEqual({
      certFile: '/var/run/secrets/envoy-ingress-tls/tls.crt',
      keyFile: '/var/run/secrets/envoy-ingress-tls/tls.key',
    });
    const bad = loadConfig({ file: path.join(fixtures, 'invalid-ingress-tls.json') });
    if (bad.ok) throw new Error('expected problems');
    expect(bad.problems.map((p) => p.path).sort()).toEqual([
      'ingress.tls',
      'ingress.tls.certFile',
      'ingress.tls.keyFile',
    ]);
    expect(bad.problems.find((p) => p.path === 'ingress.tls.certFile')?.message).toMatch(/absolute path/);
    expect(bad.problems.find((p) => p.path === 'ingress.tls')?.message).toMatch(/keyfile/);
  });

  it('fills defaults for an empty config', () => {
    const result = parseConfig({});
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.config).toMatchObject({
      namespaces: [],
      xdsAddress: '0.0.0.0:18000',
      httpAddress: '0.0.0.0:9090',
      batchWindowMs: 20,
      zoneAffinityByDefault: false,
    });
    expect(result.config.batchWindowMs).toBeLessThanOrEqual(50);
  });

  it('lets env override the file and flags override env', () => {
    const result = loadConfig({
      file: path.join(fixtures, 'valid-ingress.json'),
      env: { SKEWLESS_BATCH_WINDOW_MS: '10', SKEWLESS_NAMESPACES: 'a,b', SKEWLESS_XDS_ADDRESS: '127.0.0.1:1' },
      flags: { xdsAddress: '127.0.0.1:2', kubeconfig: undefined },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.config.batchWindowMs).toBe(10);
    expect(result.config.namespaces).toEqual(['a', 'b']);
    expect(result.config.xdsAddress).toBe('127.0.0.1:2');
    expect(result.config.ingress?.port).toBe(10000);
  });

  it('names the file when it cannot be read or parsed', () => {
    const missing = loadConfig({ file: path.join(fixtures, 'no-such-file.json') });
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.problems[0]?.path).toMatch(/no-such-file\.json$/);
    const syntax = loadConfig({ file: path.join(fixtures, 'invalid-syntax.json') });
    if (syntax.ok) throw new Error('expected a syntax problem');
    expect(syntax.problems[0]?.message).toMatch(/JSON/);
  });
});
