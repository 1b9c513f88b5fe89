/**
 * The part of the kubelet API the API server calls for `kubectl logs`: HTTPS on the node's address with a
 * serving certificate from the cluster CA, open only to client certificates from that CA whose user is the
 * API server's kubelet client (`--kubelet-client-certificate`), serving
 *
 *   GET /containerLogs/{namespace}/{pod}/{container}?tailLines=&limitBytes=&follow=&previous=
 *
 * from the log file the node agent writes for each container. The file has no per-line timestamps, so
 * `timestamps=true`, `sinceSeconds` and `sinceTime` are refused (400), as is a `stream` other than All
 * (stdout and stderr share the file).
 *
 * Errors a client acts on read as a kubelet's do: 400 and 403 in plain text, which the API server passes on
 * as its own error message; 404 as a Kubernetes Status.
 */

import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '@skewless/shared';
import type { ContainerLog } from './pod-runner.ts';

/** A pod on this node, as far as its logs go. */
export interface PodLogs {
  readonly containerNames: readonly string[];
  logOf(container: string): ContainerLog | undefined;
}

export interface KubeletServerOptions {
  readonly nodeName: string;
  readonly host: string;
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  /** The cluster CA: client certificates must chain to it. */
  readonly clientCaFile: string;
  /** Users (certificate CNs) allowed in: the API server's kubelet client. */
  readonly allowedUsers: readonly string[];
  findPod(namespace: string, name: string): PodLogs | undefined;
  readonly logger: Logger;
  /** How often a `follow=true` stream looks for new lines (default 200 ms). */
  readonly followPollMs?: number;
}

export interface RunningKubeletServer {
  readonly port: number;
  /** Stops listening and ends every open response, `follow` streams included. */
  close(): Promise<void>;
}

export interface LogOptions {
  readonly follow: boolean;
  readonly previous: boolean;
  readonly tailLines: number | undefined;
  readonly limitBytes: number | undefined;
}

export type ParsedLogQuery = { ok: true; options: LogOptions } | { ok: false; problems: string[] };

/** Every problem with the query, each naming its parameter. */
export function parseLogQuery(query: URLSearchParams): ParsedLogQuery {
  const problems: string[] = [];
  const bool = (name: string): boolean => {
    const value = query.get(name);
    if (value === null || value === '') return false;
    if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
    if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
    problems.push(`${name}=${value}: not a boolean`);
    return false;
  };
  const int = (name: string, min: number): number | undefined => {
    const value = query.get(name);
    if (value === null) return undefined;
    if (!/^\d+$/.test(value) || Number(value) < min) {
      problems.push(`${name}=${value}: must be an integer ≥ ${min}`);
      return undefined;
    }
    return Number(value);
  };
  const options: LogOptions = {
    follow: bool('follow'),
    previous: bool('previous'),
    tailLines: int('tailLines', 0),
    limitBytes: int('limitBytes', 1),
  };
  if (bool('timestamps'))
    problems.push('timestamps=true: not supported, the local node agent keeps no per-line timestamps');
  for (const name of ['sinceSeconds', 'sinceTime']) {
    if (query.has(name)) problems.push(`${name}: not supported, the local node agent keeps no per-line timestamps`);
  }
  const stream = query.get('stream');
  if (stream !== null && stream !== 'All') {
    problems.push(`stream=${stream}: not supported, stdout and stderr share one log on the local node agent`);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, options };
}

/** Where the last `tailLines` lines of `text` begin (a final line without its newline counts). */
export function tailStart(text: Buffer, tailLines: number): number {
  if (tailLines === 0) return text.length;
  let end = text.length;
  if (text[end - 1] === 0x0a) end -= 1;
  let found = 0;
  for (let i = end - 1; i >= 0; i -= 1) {
    if (text[i] === 0x0a) {
      found += 1;
      if (found === tailLines) return i + 1;
    }
  }
  return 0;
}

export async function startKubeletServer(options: KubeletServerOptions): Promise<RunningKubeletServer> {
  const log = options.logger.child({ component: 'kubelet-server' });
  const follows = new Set<() => void>();
  const inFlight = new Set<Promise<void>>();
  const server: Server = createServer(
    {
      cert: readFileSync(options.certFile),
      key: readFileSync(options.keyFile),
      ca: readFileSync(options.clientCaFile),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      const handled = handle(req, res, options, follows)
        .catch((error: Error) => {
          log.warn({ err: error.message, url: req.url }, 'kubelet API request failed');
          if (!res.headersSent) text(res, 500, error.message);
          else res.destroy(error);
        })
        .finally(() => inFlight.delete(handled));
      inFlight.add(handled);
    },
  );
  server.on('tlsClientError', (error) => log.debug({ err: error.message }, 'kubelet API TLS handshake refused'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  log.info({ host: options.host, port }, 'kubelet API listening');
  return {
    port,
    async close() {
      // Follow streams end cleanly (their last chunk sent), then the idle keep-alive connections close.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const stop of follows) stop();
      await Promise.allSettled([...inFlight]);
      server.closeAllConnections();
      await closed;
    },
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: KubeletServerOptions,
  follows: Set<() => void>,
): Promise<void> {
  const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '';
  const user = Array.isArray(cn) ? cn.join(',') : cn;
  if (!options.allowedUsers.includes(user)) {
    text(res, 403, `Forbidden (user=${user}, verb=get, resource=nodes, subresource(s)=[log])`);
    return;
  }
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
  if (!match) {
    status404(
      res,
      `the local node agent serves only /containerLogs/{namespace}/{pod}/{container}, not ${url.pathname}`,
    );
    return;
  }
  if (req.method !== 'GET') {
    text(res, 405, `${req.method} not allowed: only GET`);
    return;
  }
  const [namespace, podName, containerName] = match.slice(1).map(decodeURIComponent) as [string, string, string];
  const parsed = parseLogQuery(url.searchParams);
  if (!parsed.ok) {
    text(res, 400, parsed.problems.join('; '));
    return;
  }
  const pod = options.findPod(namespace, podName);
  if (!pod) {
    status404(res, `pod "${namespace}/${podName}" is not running on node ${options.nodeName}`, podName);
    return;
  }
  const container = pod.logOf(containerName);
  if (!container) {
    status404(
      res,
      `container "${containerName}" not found in pod "${namespace}/${podName}" (containers: ${pod.containerNames.join(', ')})`,
      podName,
    );
    return;
  }
  const opts = parsed.options;
  let start: number | undefined;
  let end: number | undefined;
  if (opts.previous) {
    if (container.previousStart === undefined) {
      text(res, 400, `previous terminated container "${containerName}" in pod "${podName}" not found`);
      return;
    }
    [start, end] = [container.previousStart, container.currentStart];
  } else {
    if (container.currentStart === undefined) {
      const reason = container.waitingReason ?? 'ContainerCreating';
      text(res, 400, `container "${containerName}" in pod "${podName}" is waiting to start: ${reason}`);
      return;
    }
    start = container.currentStart;
  }

  const file = await open(container.file, 'r');
  try {
    const whole = await readRange(file, start, end);
    const from = opts.tailLines === undefined ? 0 : tailStart(whole, opts.tailLines);
    let remaining = opts.limitBytes ?? Number.POSITIVE_INFINITY;
    const send = (chunk: Buffer) => {
      const part = chunk.subarray(0, Math.min(chunk.length, remaining));
      remaining -= part.length;
      if (part.length > 0) res.write(part);
    };
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    send(whole.subarray(from));
    if (opts.follow && !opts.previous && container.running) {
      // The current attempt only, until it stops: a kubelet follows one container the same way.
      const attempt = start;
      let offset = start + whole.length;
      await poll(res, follows, options.followPollMs ?? 200, async () => {
        const now = pod.logOf(containerName);
        const sameAttempt = now?.currentStart === attempt;
        // Read what is there before deciding: a container's last lines land just before it exits.
        const chunk = await readRange(file, offset, sameAttempt ? undefined : now?.currentStart);
        offset += chunk.length;
        send(chunk);
        return remaining > 0 && sameAttempt && now?.running === true;
      });
    }
    res.end();
  } finally {
    await file.close();
  }
}

/**
 * Runs `step` every `pollMs` while it answers true and the client is still there; resolves once no step
 * runs any more (so the caller may close what the steps read). `follows` holds it for the server's close.
 */
function poll(
  res: ServerResponse,
  follows: Set<() => void>,
  pollMs: number,
  step: () => Promise<boolean>,
): Promise<void> {
  return new Promise((resolve) => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      stopped = true;
      clearTimeout(timer);
      follows.delete(stop);
      resolve();
    };
    const next = () => {
      timer = setTimeout(async () => {
        const more = await step().catch(() => false);
        if (more && !stopped) next();
        else stop();
      }, pollMs);
    };
    follows.add(stop);
    res.once('close', stop);
    next();
  });
}

async function readRange(file: Awaited<ReturnType<typeof open>>, start: number, end?: number): Promise<Buffer> {
  const stop = end ?? (await file.stat()).size;
  const length = Math.max(0, stop - start);
  const buffer = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await file.read(buffer, read, length - read, start + read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  return buffer.subarray(0, read);
}

function text(res: ServerResponse, code: number, message: string): void {
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(message);
}

function status404(res: ServerResponse, message: string, name?: string): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason: 'NotFound',
      ...(name ? { details: { name, kind: 'pods' } } : {}),
      code: 404,
    }),
  );
}
