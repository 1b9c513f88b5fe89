/**
 * The control plane's HTTP side: `/healthz` (the process is alive), `/readyz` (every readiness
 * check passes; the failing ones are named) and Prometheus `/metrics`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A named readiness condition; `null` means ready, a string says why not. */
export type ReadinessCheck = () => string | null;

export interface HttpServerOptions {
  registry: Registry;
  readiness: Record<string, ReadinessCheck>;
}

export interface StartedHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export function createHttpHandler(options: HttpServerOptions): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET') return reply(res, 405, 'method not allowed\n');
    switch (url.pathname) {
      case '/healthz':
        return reply(res, 200, 'ok\n');
      case '/readyz': {
        const failing = Object.entries(options.readiness).flatMap(([name, check]) => {
          const reason = check();
          return reason === null ? [] : [`${name}: ${reason}`];
        });
        return failing.length === 0 ? reply(res, 200, 'ok\n') : reply(res, 503, `${failing.join('\n')}\n`);
      }
      case '/metrics':
        options.registry.metrics().then(
          (text) => reply(res, 200, text, options.registry.contentType),
          (error: Error) => reply(res, 500, `metrics failed: ${error.message}\n`),
        );
        return;
      default:
        return reply(res, 404, 'not found: try /healthz, /readyz or /metrics\n');
    }
  };
}

function reply(
  res: http.ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

/** Listens on `host:port` (port 0 picks a free one). */
export async function startHttpServer(address: string, options: HttpServerOptions): Promise<StartedHttpServer> {
  const { host, port } = splitHostPort(address);
  const server = http.createServer(createHttpHandler(options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
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

/** `0.0.0.0:9090` → host and port; `[::1]:9090` → `::1`. */
export function splitHostPort(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(':');
  const host = address.slice(0, index).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(index + 1)) };
}
