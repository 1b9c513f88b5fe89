/**
 * A real Envoy (from scripts/tools.sh) in a process group of its own, configured only by an ADS
 * bootstrap. `startEnvoy` resolves once the admin API says LIVE, which for an ADS-only bootstrap
 * means the control plane answered LDS and CDS; any failure stops the process and throws with the
 * tail of its log. Leftovers of a crashed run are swept on start.
 */
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '@skewless/shared';
import { RunDirRecord, sweepLeftovers } from '../apiserver/leftovers.ts';
import { logTail } from '../apiserver/log-tail.ts';
import { type ExitStatus, startProcessGroup } from '../apiserver/process-group.ts';
import { toolPath } from '../apiserver/tool-path.ts';
import { waitReady } from '../apiserver/wait-ready.ts';
import { type EnvoyCluster, envoyClusters, envoyStats } from './envoy-admin.ts';

const DIR_PREFIX = 'skewless-envoy-';

export interface EnvoyOptions {
  /** The bootstrap, e.g. from `envoyAdsBootstrap`. */
  readonly bootstrap: Readonly<Record<string, unknown>>;
  readonly logger?: Logger;
  /** Parent of the per-run temp dir (default: the OS temp dir). */
  readonly dir?: string;
  /** Envoy's log level (default `info`). */
  readonly logLevel?: 'trace' | 'debug' | 'info' | 'warning' | 'error';
  /** Until the admin API reports LIVE (default 30 s: CI shares 2 cores). */
  readonly readyTimeoutMs?: number;
}

export interface StartedEnvoy {
  readonly pid: number;
  /** `http://127.0.0.1:<admin port>`. */
  readonly adminUrl: string;
  readonly logFile: string;
  /** The last lines of Envoy's log, for failure messages. */
  logTail(lines?: number): string;
  clusters(): Promise<EnvoyCluster[]>;
  stats(filter: string): Promise<Map<string, number>>;
  /** SIGTERM to the group (SIGKILL after 5 s), then removes the temp dir. Safe to call twice. */
  stop(): Promise<ExitStatus>;
}

export async function startEnvoy(opts: EnvoyOptions): Promise<StartedEnvoy> {
  const logger = opts.logger ?? createLogger('envoy');
  const parent = opts.dir ?? tmpdir();
  sweepLeftovers(parent, DIR_PREFIX, logger);
  const binary = toolPath('envoy');
  const dir = mkdtempSync(join(parent, DIR_PREFIX));
  const record = new RunDirRecord(dir);
  const bootstrapFile = join(dir, 'bootstrap.json');
  const adminAddressFile = join(dir, 'admin-address');
  const logFile = join(dir, 'envoy.log');
  writeFileSync(bootstrapFile, JSON.stringify(opts.bootstrap, null, 2));

  const group = startProcessGroup({
    command: binary,
    args: [
      '--config-path',
      bootstrapFile,
      '--admin-address-path',
      adminAddressFile,
      // No shared memory between Envoys: parallel test files and other runs cannot collide.
      '--disable-hot-restart',
      '--base-id',
      String(randomInt(1, 2 ** 31)),
      '--concurrency',
      '1',
      '--log-level',
      opts.logLevel ?? 'info',
    ],
    logFile,
  });
  // The sweep checks /proc/<pid>/exe, which is the resolved binary, not the .tools/bin symlink.
  record.addGroup(group.pid, realpathSync(binary));

  let stopped: Promise<ExitStatus> | undefined;
  const stop = () => {
    stopped ??= group.stop(5000).then((status) => {
      rmSync(dir, { recursive: true, force: true });
      return status;
    });
    return stopped;
  };
  const adminUrl = () => `http://${readFileSync(adminAddressFile, 'utf8').trim()}`;

  try {
    const readyMs = await waitReady({
      what: 'envoy',
      process: group,
      timeoutMs: opts.readyTimeoutMs ?? 30_000,
      logger,
      intervalMs: 100,
      probe: async () => {
        if (!existsSync(adminAddressFile)) return 'admin address not written yet';
        const response = await fetch(`${adminUrl()}/ready`);
        const body = (await response.text()).trim();
        return response.ok ? true : `/ready: ${response.status} ${body}`;
      },
    });
    logger.info({ pid: group.pid, readyMs, adminUrl: adminUrl() }, 'envoy ready');
  } catch (error) {
    const tail = logTail(logFile, 40);
    await stop();
    throw new Error(`${(error as Error).message}\n${tail}`);
  }

  const url = adminUrl();
  return {
    pid: group.pid,
    adminUrl: url,
    logFile,
    logTail: (lines = 40) => logTail(logFile, lines),
    clusters: () => envoyClusters(url),
    stats: (filter) => envoyStats(url, filter),
    stop,
  };
}
