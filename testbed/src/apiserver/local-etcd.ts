/** A single-member etcd on loopback with its own data dir, for one local kube-apiserver. */
import { join } from 'node:path';
import type { Logger } from '@skewless/shared';
import { freePort } from './free-port.ts';
import { type ProcessGroup, startProcessGroup } from './process-group.ts';
import { toolPath } from './tool-path.ts';
import { waitReady } from './wait-ready.ts';

export interface StartedEtcd {
  readonly clientUrl: string;
  readonly process: ProcessGroup;
  readonly logFile: string;
}

export async function startLocalEtcd(options: {
  dir: string;
  logger: Logger;
  timeoutMs: number;
  onStarted: (group: ProcessGroup, exe: string) => void;
}): Promise<StartedEtcd> {
  const exe = toolPath('etcd');
  const clientUrl = `http://127.0.0.1:${await freePort()}`;
  const peerUrl = `http://127.0.0.1:${await freePort()}`;
  const logFile = join(options.dir, 'etcd.log');
  const group = startProcessGroup({
    command: exe,
    args: [
      '--name=default',
      `--data-dir=${join(options.dir, 'etcd-data')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      // Throwaway test data: skipping fsync keeps etcd from stalling on a busy CI disk.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    logFile,
  });
  options.onStarted(group, exe);
  const readyMs = await waitReady({
    what: 'etcd',
    process: group,
    timeoutMs: options.timeoutMs,
    logger: options.logger,
    probe: async () => {
      const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
      const body = (await response.json()) as { health?: string };
      return body.health === 'true' || `health: ${JSON.stringify(body)}`;
    },
  });
  options.logger.info({ clientUrl, pid: group.pid, readyMs }, 'etcd ready');
  return { clientUrl, process: group, logFile };
}
