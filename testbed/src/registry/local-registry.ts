/**
 * A real OCI registry on loopback: CNCF distribution's `registry` (pinned REGISTRY_VERSION, built by
 * scripts/tools.sh) serving plain HTTP on 127.0.0.1:<free port>, its blobs in a temp dir of its own.
 * Docker treats registries on 127.0.0.0/8 as insecure by default, so `docker push 127.0.0.1:<port>/…`
 * works with no TLS and no daemon configuration: what the `existing` driver's push is tested against.
 *
 * The registry runs in a process group of its own, stopped by that group; the temp dir records it, so
 * the next start sweeps what a crashed run left.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '@skewless/shared';
import { stringify } from 'yaml';
import { freePort } from '../apiserver/free-port.ts';
import { RunDirRecord, sweepLeftovers } from '../apiserver/leftovers.ts';
import { logTail } from '../apiserver/log-tail.ts';
import { type ExitStatus, startProcessGroup } from '../apiserver/process-group.ts';
import { toolPath } from '../apiserver/tool-path.ts';
import { waitReady } from '../apiserver/wait-ready.ts';

const DIR_PREFIX = 'skewless-registry-';

export interface LocalRegistryOptions {
  readonly logger?: Logger;
  /** Parent of the per-run temp dir holding config, storage and log (default: the OS temp dir). */
  readonly dir?: string;
  /** Until `GET /v2/` answers 200 (default 30 s: CI shares 2 cores). */
  readonly readyTimeoutMs?: number;
}

export interface StartedLocalRegistry {
  /** `127.0.0.1:<port>`: the registry part of the image names pushed here. */
  readonly address: string;
  /** `http://127.0.0.1:<port>`, for the registry API (`/v2/…`). */
  readonly url: string;
  readonly pid: number;
  readonly logFile: string;
  /** The tags of a repository (`team/skewless/backend`), sorted; none when the registry does not know it. */
  tags(repository: string): Promise<string[]>;
  /** The last lines of the registry's log, for failure messages. */
  logTail(lines?: number): string;
  /** SIGTERM to the group (SIGKILL after 5 s), then removes the temp dir and what was pushed. Safe to call twice. */
  stop(): Promise<ExitStatus>;
}

export async function startLocalRegistry(opts: LocalRegistryOptions = {}): Promise<StartedLocalRegistry> {
  const logger = opts.logger ?? createLogger('registry');
  const parent = opts.dir ?? tmpdir();
  sweepLeftovers(parent, DIR_PREFIX, logger);
  const binary = toolPath('registry');
  const dir = mkdtempSync(join(parent, DIR_PREFIX));
  const record = new RunDirRecord(dir);
  const address = `127.0.0.1:${await freePort()}`;
  const url = `http://${address}`;
  const configFile = join(dir, 'config.yml');
  const logFile = join(dir, 'registry.log');
  mkdirSync(join(dir, 'storage'));
  writeFileSync(configFile, stringify(registryConfig(address, join(dir, 'storage'))));

  const group = startProcessGroup({
    command: binary,
    args: ['serve', configFile],
    logFile,
    // The registry always sets up OpenTelemetry, whose default exporter sends spans to localhost:4318:
    // no collector runs here, so export nothing rather than log a failed export per request.
    env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
  });
  record.addGroup(group.pid, realpathSync(binary));

  let stopped: Promise<ExitStatus> | undefined;
  const stop = () => {
    stopped ??= group.stop(5000).then((status) => {
      rmSync(dir, { recursive: true, force: true });
      return status;
    });
    return stopped;
  };

  try {
    const readyMs = await waitReady({
      what: `registry at ${address}`,
      process: group,
      timeoutMs: opts.readyTimeoutMs ?? 30_000,
      logger,
      intervalMs: 100,
      probe: async () => {
        const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
        await response.body?.cancel();
        // The API version header tells our registry from anything else that took the port meanwhile.
        const api = response.headers.get('docker-distribution-api-version');
        if (response.status === 200 && api === 'registry/2.0') return true;
        return `GET /v2/: ${response.status}, Docker-Distribution-Api-Version ${api ?? 'missing'}`;
      },
    });
    logger.info({ pid: group.pid, readyMs, address }, 'registry ready');
  } catch (error) {
    const tail = logTail(logFile, 40);
    await stop();
    throw new Error(`${(error as Error).message}\n${tail}`);
  }

  return {
    address,
    url,
    pid: group.pid,
    logFile,
    tags: (repository) => listTags(url, repository),
    logTail: (lines = 40) => logTail(logFile, lines),
    stop,
  };
}

/** distribution's configuration (YAML; version 0.1 is the format's only version). */
function registryConfig(address: string, storageDir: string): Record<string, unknown> {
  return {
    version: '0.1',
    log: { level: 'info', formatter: 'text' },
    storage: { filesystem: { rootdirectory: storageDir } },
    // The secret signs upload state; without one the registry makes a random one and warns about it.
    http: { addr: address, secret: randomBytes(16).toString('hex') },
  };
}

async function listTags(url: string, repository: string): Promise<string[]> {
  const response = await fetch(`${url}/v2/${repository}/tags/list`, { signal: AbortSignal.timeout(10_000) });
  const body = await response.text();
  if (response.status === 404 && body.includes('NAME_UNKNOWN')) return [];
  if (response.status !== 200) throw new Error(`GET /v2/${repository}/tags/list: ${response.status} ${body}`);
  const tags = (JSON.parse(body) as { tags?: string[] | null }).tags;
  return [...(tags ?? [])].sort();
}
