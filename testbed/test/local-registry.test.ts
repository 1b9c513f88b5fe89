/**
 * The testbed's OCI registry (CNCF distribution, `scripts/tools.sh registry`) on loopback, through its HTTP
 * API. Pushing a real image into it with `docker push` is tested with the existing driver
 * (existing-driver.test.ts).
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { createLogger } from '@skewless/shared';
import { expect, it } from 'vitest';
import { isAlive } from '../src/apiserver/leftovers.ts';
import { startLocalRegistry } from '../src/registry/local-registry.ts';

const logger = createLogger('local-registry-test', process.env.SKEWLESS_LOG_LEVEL ?? 'warn');

it('answers the registry API on 127.0.0.1, lists no tags for a repository it does not hold, and stop() ends it and removes its dir', async () => {
  const registry = await startLocalRegistry({ logger });
  const dir = dirname(registry.logFile);
  try {
    expect(registry.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(registry.url).toBe(`http://${registry.address}`);
    const root = await fetch(`${registry.url}/v2/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    await root.body?.cancel();
    expect(await registry.tags('team/skewless/backend')).toEqual([]);
    expect(existsSync(dir)).toBe(true);
  } finally {
    await registry.stop();
  }
  expect(isAlive(registry.pid)).toBe(false);
  expect(existsSync(dir)).toBe(false);
  await registry.stop();
});
