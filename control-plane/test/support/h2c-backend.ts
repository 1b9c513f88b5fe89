/**
 * A plain HTTP/2 cleartext (h2c, prior knowledge) backend answering every request with its id,
 * and a matching one-shot client: the non-gRPC HTTP/2 traffic an ingress must carry.
 */
import http2 from 'node:http2';

export interface H2cBackend {
  readonly id: string;
  readonly port: number;
  requests(): number;
  close(): Promise<void>;
}

export async function startH2cBackend(id: string): Promise<H2cBackend> {
  let requests = 0;
  const server = http2.createServer((_req, res) => {
    requests += 1;
    res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': id });
    res.end(id);
  });
  // Envoy keeps upstream connections open; closing must not wait for it to let go.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('h2c backend has no port');
  return {
    id,
    port: address.port,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.destroy();
      }),
  };
}

/** One GET over a fresh h2c connection (prior knowledge, no upgrade). */
export function h2cGet(port: number, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`h2c GET ${path} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    session.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    const req = session.request({ ':method': 'GET', ':path': path });
    let status = 0;
    let body = '';
    req.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, body });
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      session.destroy();
      reject(error);
    });
    req.end();
  });
}
