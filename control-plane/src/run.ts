/**
 * The control plane as a process: Kubernetes discovery feeding the xDS server, plus the HTTP side.
 *
 * Order matters: the ADS port opens only after discovery has published its first complete view,
 * so a client (or an Envoy) that connects during a control-plane restart never receives an empty
 * wildcard CDS/LDS that would delete its clusters.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '@skewless/shared';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ControlPlaneConfig } from './config.ts';
import { startHttpServer } from './http-server.ts';
import { KubeDiscovery } from './kube-discovery.ts';
import { createXdsServer } from './xds-server.ts';

export interface RunningControlPlane {
  readonly xdsPort: number;
  readonly httpPort: number;
  /** Stops discovery, ends ADS streams within the configured grace period, closes HTTP. */
  stop(): Promise<void>;
}

/** Throws `kubeconfig <file>: <reason>` when the file cannot be read or parsed. */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  // loadFromDefault picks KUBECONFIG, ~/.kube/config, or the in-cluster service account.
  if (!file) {
    kubeConfig.loadFromDefault();
    return kubeConfig;
  }
  try {
    kubeConfig.loadFromFile(file);
  } catch (error) {
    throw new Error(`kubeconfig ${file}: ${(error as Error).message}`);
  }
  return kubeConfig;
}

export async function startControlPlane(
  config: ControlPlaneConfig,
  deps: { logger: Logger; registry?: Registry },
): Promise<RunningControlPlane> {
  const { logger } = deps;
  // First, so a bad kubeconfig is reported before anything listens.
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const registry = deps.registry ?? new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'skewless_control_plane_' });

  // Discovery is created after the server (it publishes into the server's sink), so the resolver
  // reaches it through this variable; until discovery exists, zones resolve to unknown.
  let discovery: KubeDiscovery | undefined;
  const xds = createXdsServer({
    logger,
    batchWindowMs: config.batchWindowMs,
    ingress: config.ingress,
    metrics: registry,
    zoneAffinityByDefault: config.zoneAffinityByDefault,
    clusterDomain: config.clusterDomain,
    // A client without a configured zone gets its Pod's Node's zone (issue #3 "Own zone").
    resolveClientZone: ({ podNamespace, podName }) =>
      podNamespace && podName ? discovery?.zoneOfPod(podNamespace, podName) : undefined,
  });
  discovery = new KubeDiscovery({
    kubeConfig,
    namespaces: config.namespaces.length > 0 ? config.namespaces : undefined,
    sink: xds.sink,
    logger,
    onPodZonesChanged: () => xds.refreshClientZones(),
  });
  let xdsPort: number | undefined;
  const http = await startHttpServer(config.httpAddress, {
    registry,
    readiness: {
      kubernetes: () => (discovery.isSynced() ? null : 'informers have not completed a list of every watched kind'),
      xds: () =>
        xdsPort === undefined ? 'ADS port not open yet (waiting for the first complete endpoint view)' : null,
    },
  });
  logger.info({ httpPort: http.port }, 'HTTP endpoints up: /healthz /readyz /metrics');

  const startedAt = performance.now();
  logger.info({ namespaces: config.namespaces.length > 0 ? config.namespaces : 'all' }, 'listing Kubernetes state');
  try {
    await discovery.start();
    xdsPort = await xds.bind(config.xdsAddress);
  } catch (error) {
    await Promise.allSettled([discovery.stop(), http.close(), xds.close(0)]);
    throw error;
  }
  logger.info({ xdsPort, tookMs: Math.round(performance.now() - startedAt) }, 'serving ADS');

  return {
    xdsPort,
    httpPort: http.port,
    stop: async () => {
      await discovery.stop();
      await xds.close(config.shutdownGraceMs);
      await http.close();
    },
  };
}
