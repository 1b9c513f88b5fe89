/**
 * The backend's HTTP side: `/healthz` (the process runs), `/readyz` (200 only while SERVING),
 * Prometheus `/metrics`, `/whoami` (the pod, zone and node that answered, as Echo replies carry them:
 * HTTP load through an ingress counts per pod from the body), and `/fault`: GET shows the fault
 * settings, PUT changes them at run time (a rejected body lists every problem and changes nothing).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Problem } from '@skewless/shared';
import type { Registry } from 'prom-client';
import type { FaultPatchResult, FaultSettings } from './backend-faults.ts';

/** Fault bodies are a handful of numbers; anything bigger is a mistake. */
const MAX_BODY_BYTES = 64 * 1024;

export interface BackendHttpOptions {
  registry: Registry;
  /** Served by GET /whoami. */
  identity: { readonly pod: string; readonly zone: string; readonly node: string };
  /** null while SERVING, else why not (served with 503). */
  notReadyReason(): string | null;
  faults(): FaultSettings;
  /** Applies a PUT /fault body; on problems the settings are unchanged. */
  patchFaults(body: unknown): FaultPatchResult;
}

export interface StartedBackendHttp {
  readonly port: number;
  close(): Promise<void>;
}

export function createBackendHttpHandler(options: BackendHttpOptions): http.RequestListener {
  return (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname === '/fault') {
      if (req.method === 'GET') return replyJson(res, 200, options.faults());
      if (req.method === 'PUT') return void putFault(req, res, options);
      return reply(res, 405, 'method not allowed: GET or PUT\n', { allow: 'GET, PUT' });
    }
    if (req.method !== 'GET') return reply(res, 405, 'method not allowed\n', { allow: 'GET' });
    switch (pathname) {
      case '/healthz':
        return reply(res, 200, 'ok\n');
      case '/whoami':
        return replyJson(res, 200, options.identity);
      case '/readyz': {
        const reason = options.notReadyReason();
        return reason === null ? reply(res, 200, 'ok\n') : reply(res, 503, `${reason}\n`);
      }
      case '/metrics':
        options.registry.metrics().then(
          (text) => reply(res, 200, text, { 'content-type': options.registry.contentType }),
          (error: Error) => reply(res, 500, `metrics failed: ${error.message}\n`),
        );
        return;
      default:
        return reply(res, 404, 'not found: try /healthz, /readyz, /metrics, /whoami or /fault\n');
    }
  };
}

async function putFault(req: http.IncomingMessage, res: http.ServerResponse, options: BackendHttpOptions) {
  const body = await readJson(req);
  if (!body.ok) return replyJson(res, 400, { problems: body.problems });
  const result = options.patchFaults(body.value);
  if (!result.ok) return replyJson(res, 400, { problems: result.problems });
  replyJson(res, 200, result.settings);
}

async function readJson(
  req: http.IncomingMessage,
): Promise<{ ok: true; value: unknown } | { ok: false; problems: Problem[] }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      return { ok: false, problems: [{ path: '(body)', message: `larger than ${MAX_BODY_BYTES} bytes` }] };
    chunks.push(chunk);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (error) {
    return { ok: false, problems: [{ path: '(body)', message: `not JSON: ${(error as Error).message}` }] };
  }
}

function replyJson(res: http.ServerResponse, status: number, value: unknown): void {
  reply(res, status, `${JSON.stringify(value)}\n`, { 'content-type': 'application/json' });
}

function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}

/** Listens on `host:port` (port 0 picks a free one). */
export async function startBackendHttp(
  host: string,
  port: number,
  options: BackendHttpOptions,
): Promise<StartedBackendHttp> {
  const server = http.createServer(createBackendHttpHandler(options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
