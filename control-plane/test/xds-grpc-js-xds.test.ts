/**
 * Our control plane against a real proxyless xDS client: @grpc/grpc-js-xds resolving
 * `xds:///echo.default.svc.cluster.local:50051` (the Listener alias of `default/echo:grpc`) through LDS → CDS → EDS from our server, calling real grpc-js
 * backends on 127.0.0.1. grpc-js-xds reads its bootstrap once per process, so this file owns it.
 */
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { createLogger, dnsListenerName, type EchoClient, echoGrpc, formatServiceKey } from '@skewless/shared';
import { type StartedEchoServer, startEchoServer } from '@skewless/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointRecord, ServicePortEndpoints } from '../src/model.ts';
import { ZONE_PRIORITY_METADATA_KEY } from '../src/xds-client-info.ts';
import { createXdsServer, type XdsServer } from '../src/xds-server.ts';
import { eventually } from './support/ads-test-client.ts';

const KEY = { namespace: 'default', service: 'echo', port: 'grpc' };
const NAME = formatServiceKey(KEY);
const CLIENT_ZONE = 'zone-a';

let server: XdsServer;
let client: EchoClient;
const backends = new Map<string, StartedEchoServer>();

async function backend(pod: string, zone: string): Promise<StartedEchoServer> {
  const started = await startEchoServer({ pod, zone });
  backends.set(pod, started);
  return started;
}

function publish(entries: { pod: string; health?: EndpointRecord['health'] }[]): void {
  const endpoints = entries.map(({ pod, health }): EndpointRecord => {
    const b = backends.get(pod);
    if (!b) throw new Error(`no backend ${pod}`);
    return { address: '127.0.0.1', port: b.port, health: health ?? 'HEALTHY', zone: b.zone, weight: 1, pod };
  });
  const service: ServicePortEndpoints = { key: KEY, name: NAME, servicePort: 50051, endpoints };
  server.sink.replaceAll([service]);
}

function call(): Promise<string> {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 5000);
    client.Echo({ message: 'hi' }, new grpc.Metadata(), { deadline }, (error, reply) =>
      error ? reject(error) : resolve(reply?.pod ?? ''),
    );
  });
}

/** The pods that answered `n` sequential calls. */
async function podsAnswering(n: number): Promise<Set<string>> {
  const pods = new Set<string>();
  for (let i = 0; i < n; i += 1) pods.add(await call());
  return pods;
}

describe('grpc-js-xds against our control plane', () => {
  beforeAll(async () => {
    server = createXdsServer({ logger: createLogger('xds-test', 'silent'), batchWindowMs: 10 });
    const port = await server.bind('127.0.0.1:0');
    for (const [pod, zone] of [
      ['echo-a1', 'zone-a'],
      ['echo-a2', 'zone-a'],
      ['echo-a3', 'zone-a'],
      ['echo-a4', 'zone-a'],
      ['echo-b1', 'zone-b'],
    ] as const) {
      await backend(pod, zone);
    }
    publish([{ pod: 'echo-a1' }, { pod: 'echo-a2' }, { pod: 'echo-a3' }]);
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${port}`, channel_creds: [{ type: 'insecure' }], server_features: [] }],
      node: {
        id: 'grpc-js-xds-test',
        cluster: 'test',
        locality: { zone: CLIENT_ZONE },
        metadata: { [ZONE_PRIORITY_METADATA_KEY]: true },
      },
    });
    grpcXds.register();
    // The DNS-style alias, as Istio names Listeners: it is also a valid HTTP/2 :authority, so no
    // channel option is needed (the service key `default/echo:grpc` contains a '/', which is not).
    client = new (echoGrpc().Client)(`xds:///${dnsListenerName(KEY, 50051)}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    for (const b of backends.values()) b.close();
    await server?.close(500);
  });

  it('resolves the service through our LDS/CDS/EDS and spreads calls over every endpoint', async () => {
    const pods = await eventually(async () => {
      const answered = await podsAnswering(12);
      expect(answered).toEqual(new Set(['echo-a1', 'echo-a2', 'echo-a3']));
      return answered;
    }, 20_000);
    expect(pods.size).toBe(3);
    expect(server.connectedClients()).toBe(1);
  });

  it('stops calling a removed endpoint and starts calling an added one', async () => {
    publish([{ pod: 'echo-a1' }, { pod: 'echo-a3' }, { pod: 'echo-a4' }]);
    await eventually(
      async () => expect(await podsAnswering(12)).toEqual(new Set(['echo-a1', 'echo-a3', 'echo-a4'])),
      10_000,
    );
  });

  it('stops sending new calls to a draining endpoint', async () => {
    publish([{ pod: 'echo-a1', health: 'DRAINING' }, { pod: 'echo-a3' }, { pod: 'echo-a4' }]);
    await eventually(async () => expect(await podsAnswering(12)).toEqual(new Set(['echo-a3', 'echo-a4'])), 10_000);
  });

  it("keeps calls in the client's zone while it has healthy endpoints, and fails over when it has none", async () => {
    publish([{ pod: 'echo-a3' }, { pod: 'echo-a4' }, { pod: 'echo-b1' }]);
    // zone-b is priority 1 for this client: the new endpoint there gets nothing while zone-a is healthy.
    const before = backends.get('echo-b1')?.calls() ?? 0;
    await eventually(async () => expect(await podsAnswering(12)).toEqual(new Set(['echo-a3', 'echo-a4'])), 10_000);
    expect(await podsAnswering(20)).toEqual(new Set(['echo-a3', 'echo-a4']));
    expect(backends.get('echo-b1')?.calls()).toBe(before);

    publish([{ pod: 'echo-a3', health: 'DRAINING' }, { pod: 'echo-a4', health: 'DRAINING' }, { pod: 'echo-b1' }]);
    await eventually(async () => expect(await podsAnswering(6)).toEqual(new Set(['echo-b1'])), 10_000);
  });
});
