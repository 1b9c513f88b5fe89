/** An ADS server on 127.0.0.1 over a cache the test can drive directly (including test overrides). */
import { Registry } from 'prom-client';
import { XdsMetrics } from '../../src/metrics.ts';
import type { IngressConfig } from '../../src/translate-ingress.ts';
import { XdsCache } from '../../src/xds-cache.ts';
import { type AdsServer, serveAds } from '../../src/xds-server.ts';
import { type CaptureLogger, captureLogger } from './capture-logger.ts';

export interface TestXds {
  readonly cache: XdsCache;
  readonly ads: AdsServer;
  readonly port: number;
  readonly log: CaptureLogger;
  readonly registry: Registry;
  close(): Promise<void>;
}

export async function startTestXds(
  opts: { ingress?: IngressConfig; zoneAffinityByDefault?: boolean; batchWindowMs?: number } = {},
): Promise<TestXds> {
  const log = captureLogger('debug');
  const registry = new Registry();
  const metrics = new XdsMetrics(registry);
  const cache = new XdsCache({
    logger: log.logger,
    batchWindowMs: opts.batchWindowMs ?? 5,
    metrics,
    ingress: opts.ingress,
  });
  const ads = serveAds(cache, {
    logger: log.logger,
    metrics,
    zoneAffinityByDefault: opts.zoneAffinityByDefault ?? false,
  });
  const port = await ads.bind('127.0.0.1:0');
  return {
    cache,
    ads,
    port,
    log,
    registry,
    close: async () => {
      await ads.close(200);
      cache.close();
    },
  };
}
