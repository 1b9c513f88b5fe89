/**
 * Does a Docker engine answer at a DOCKER_HOST address? `GET /_ping` over the unix socket (or TCP),
 * with node:http only, so the check needs neither the docker CLI nor a client library.
 */
import { request } from 'node:http';

export const SYSTEM_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** Resolves true when the engine answers `OK`, or a short reason why not (never rejects). */
export function pingDocker(host: string, timeoutMs = 2000): Promise<true | string> {
  let target: { socketPath: string } | { host: string; port: number };
  try {
    target = connectTarget(host);
  } catch (error) {
    return Promise.resolve((error as Error).message);
  }
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(res.statusCode === 200 && body === 'OK' ? true : `HTTP ${res.statusCode}: ${body}`));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve(error.message));
    req.end();
  });
}

/** `unix:///run/x/docker.sock` → a socket path; `tcp://host:2375` → host and port. */
export function connectTarget(host: string): { socketPath: string } | { host: string; port: number } {
  const url = new URL(host);
  if (url.protocol === 'unix:') return { socketPath: url.pathname };
  if (url.protocol === 'tcp:' || url.protocol === 'http:') {
    return { host: url.hostname, port: Number.parseInt(url.port || '2375', 10) };
  }
  throw new Error(`DOCKER_HOST ${host}: only unix:// and tcp:// (plain HTTP) engines are supported`);
}
