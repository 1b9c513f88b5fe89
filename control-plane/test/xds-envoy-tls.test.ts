/**
 * The TLS ingress against a real Envoy configured only by an ADS bootstrap: the Listener we serve
 * terminates TLS with PEM files from Envoy's filesystem and negotiates ALPN, so a verifying gRPC client
 * and HTTP/2 and HTTP/1.1 clients all get through, while a plaintext client does not; a Listener naming
 * a missing file is rejected by Envoy (NACK) and the last good one keeps serving.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { type EchoClient, echoGrpc, TYPE_URL } from '@skewless/shared';
import {
  envoyAdsBootstrap,
  freePort,
  makeServingCert,
  type ServingCert,
  type StartedEchoServer,
  type StartedEnvoy,
  startEchoServer,
  startEnvoy,
} from '@skewless/testbed';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type IngressConfig, toIngressListener } from '../src/translate-ingress.ts';
import { eventually } from './support/ads-test-client.ts';
import { type H2cBackend, startH2cBackend } from './support/h2c-backend.ts';
import { service } from './support/services.ts';
import { startTestXds, type TestXds } from './support/xds-fixture.ts';

const ECHO = 'default/echo:grpc';
const WEB = 'default/web:http';

let dir: string;
let cert: ServingCert;
let xds: TestXds;
let envoy: StartedEnvoy | undefined;
let ingress: IngressConfig;
const echoBackends: StartedEchoServer[] = [];
const webBackends: H2cBackend[] = [];
const clients: EchoClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skewless-envoy-tls-'));
  cert = await makeServingCert(dir, { commonName: 'envoy-ingress', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  echoBackends.push(
    await startEchoServer({ pod: 'echo-1', zone: 'zone-a' }),
    await startEchoServer({ pod: 'echo-2', zone: 'zone-a' }),
  );
  webBackends.push(await startH2cBackend('web-1'));
  ingress = {
    host: '127.0.0.1',
    port: await freePort(),
    tls: { certFile: cert.certFile, keyFile: cert.keyFile },
    routes: [
      { service: ECHO, match: { grpcService: 'skewless.echo.v1.Echo' } },
      { service: WEB, match: { pathPrefix: '/' } },
    ],
  };
  xds = await startTestXds({ ingress });
  xds.cache.replaceAll([
    service(
      ECHO,
      echoBackends.map((b) => ({ address: '127.0.0.1', port: b.port, zone: b.zone, pod: b.pod })),
    ),
    service(WEB, [{ address: '127.0.0.1', port: webBackends[0]?.port ?? 0, pod: 'web-1' }], {
      appProtocol: 'kubernetes.io/h2c',
    }),
  ]);
  envoy = await startEnvoy({
    bootstrap: envoyAdsBootstrap({ nodeId: 'envoy-ingress-tls', xdsHost: '127.0.0.1', xdsPort: xds.port }),
  });
});

afterEach((context) => {
  if (context.task.result?.state === 'fail' && envoy) process.stderr.write(`${envoy.logTail(60)}\n`);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await envoy?.stop();
  await xds?.close();
  for (const b of echoBackends) b.close();
  await Promise.all(webBackends.map((b) => b.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function echoClient(credentials: grpc.ChannelCredentials): EchoClient {
  // The SNI name: an IP address is not one (RFC 6066); the certificate covers localhost too.
  const client = new (echoGrpc().Client)(`127.0.0.1:${ingress.port}`, credentials, {
    'grpc.ssl_target_name_override': 'localhost',
  });
  clients.push(client);
  return client;
}

function echo(client: EchoClient): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Echo({ message: 'hi' }, new grpc.Metadata(), { deadline: new Date(Date.now() + 3000) }, (error, reply) =>
      error ? reject(error) : resolve(reply?.pod ?? ''),
    ),
  );
}

/** One GET over a fresh TLS connection offering only `alpn`; resolves with what was negotiated. */
function httpsGet(path: string, alpn: 'h2' | 'http/1.1'): Promise<{ alpn: string; status: number; body: string }> {
  if (alpn === 'h2') {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`https://127.0.0.1:${ingress.port}`, { ca: cert.caPem, servername: 'localhost' });
      session.on('error', reject);
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
        const negotiated = session.alpnProtocol ?? '';
        session.close();
        resolve({ alpn: negotiated, status, body });
      });
      req.on('error', reject);
      req.end();
    });
  }
  // https passes the TLS options through to tls.connect, ALPN included.
  const options: https.RequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'> = {
    host: '127.0.0.1',
    servername: 'localhost',
    port: ingress.port,
    path,
    ca: cert.caPem,
    ALPNProtocols: ['http/1.1'],
    agent: false,
  };
  return new Promise((resolve, reject) => {
    const req = https.get(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        const socket = res.socket as TLSSocket;
        resolve({ alpn: String(socket.alpnProtocol), status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
  });
}

const statSum = async (filter: string) => [...(await envoy!.stats(filter)).values()].reduce((a, b) => a + b, 0);

describe("Envoy ingress over TLS (files from Envoy's filesystem, ALPN h2 and http/1.1)", () => {
  it('accepts the TLS listener: LDS updated, nothing rejected', async () => {
    expect(await statSum('listener_manager\\.lds\\.update_success$')).toBeGreaterThanOrEqual(1);
    expect(await statSum('listener_manager\\.lds\\.update_rejected$')).toBe(0);
    expect(await statSum('listener_manager\\.total_listeners_active$')).toBe(1);
  });

  it('serves gRPC to a client that verifies the certificate against our CA, over every backend', async () => {
    const client = echoClient(grpc.credentials.createSsl(Buffer.from(cert.caPem)));
    const pods = new Set<string>();
    await eventually(async () => {
      for (let i = 0; i < 8; i += 1) pods.add(await echo(client));
      expect(pods).toEqual(new Set(['echo-1', 'echo-2']));
    }, 10_000);
    expect(await statSum(`listener\\.127\\.0\\.0\\.1_${ingress.port}\\.ssl\\.handshake$`)).toBeGreaterThanOrEqual(1);
  });

  it('refuses a plaintext gRPC client', async () => {
    const client = echoClient(grpc.credentials.createInsecure());
    await expect(echo(client)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('negotiates h2 for an HTTP/2 client and http/1.1 for an HTTP/1.1 one, both routed to the web backend', async () => {
    const h2 = await httpsGet('/hello', 'h2');
    expect(h2).toEqual({ alpn: 'h2', status: 200, body: 'web-1' });
    const h1 = await httpsGet('/hello', 'http/1.1');
    expect(h1).toEqual({ alpn: 'http/1.1', status: 200, body: 'web-1' });
  });

  it('rejects a listener whose key file is missing (NACK) and keeps serving the last good one', async () => {
    const rejectedBefore = await statSum('listener_manager\\.lds\\.update_rejected$');
    xds.cache.setTestOverride(
      TYPE_URL.listener,
      'ingress',
      toIngressListener({ ...ingress, tls: { certFile: cert.certFile, keyFile: join(dir, 'missing.key') } }),
    );
    await eventually(() => expect(xds.log.matching(/NACK/)).toHaveLength(1), 10_000);
    expect(String(xds.log.matching(/NACK/)[0]?.error)).toMatch(/missing\.key/);
    await eventually(async () =>
      expect(await statSum('listener_manager\\.lds\\.update_rejected$')).toBe(rejectedBefore + 1),
    );
    const client = echoClient(grpc.credentials.createSsl(Buffer.from(cert.caPem)));
    expect(['echo-1', 'echo-2']).toContain(await echo(client));
    xds.cache.setTestOverride(TYPE_URL.listener, 'ingress', undefined);
  });
});
