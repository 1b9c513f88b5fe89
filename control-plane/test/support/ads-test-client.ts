/**
 * A raw ADS client over a real gRPC connection: sends exactly the requests a test writes and
 * queues every response, so tests can assert the protocol message by message.
 */
import * as grpc from '@grpc/grpc-js';
import {
  type AggregatedDiscoveryServiceClient,
  adsGrpc,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse__Output,
  type DiscoveryRequest,
  type DiscoveryResponse__Output,
  type Node,
} from '@skewless/shared';

const DEFAULT_TIMEOUT_MS = 5000;

class ResponseQueue<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | undefined;
  ended: grpc.StatusObject | undefined;
  private endWaiters: ((status: grpc.StatusObject) => void)[] = [];

  push(item: T): void {
    this.items.push(item);
    this.waiter?.();
  }

  end(status: grpc.StatusObject): void {
    if (this.ended) return;
    this.ended = status;
    this.waiter?.();
    for (const w of this.endWaiters) w(status);
  }

  /** The next response not yet taken, waiting up to `timeoutMs`. */
  async next(what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) return item;
      if (this.ended)
        throw new Error(`stream ended (${this.ended.code} ${this.ended.details}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Responses received and not yet taken. */
  pending(): readonly T[] {
    return this.items;
  }

  status(timeoutMs: number): Promise<grpc.StatusObject> {
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stream did not end within ${timeoutMs} ms`)), timeoutMs);
      this.endWaiters.push((status) => {
        clearTimeout(timer);
        resolve(status);
      });
    });
  }
}

function newClient(port: number): AggregatedDiscoveryServiceClient {
  const Ads = adsGrpc().envoy.service.discovery.v3.AggregatedDiscoveryService;
  return new Ads(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

export function testNode(id: string, zone = '', metadata: Record<string, boolean> = {}): Node {
  return {
    id,
    cluster: 'test',
    locality: { zone },
    metadata: { fields: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, { boolValue: v }])) },
  };
}

export class SotwTestClient {
  private readonly client: AggregatedDiscoveryServiceClient;
  private readonly call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>;
  private readonly queue = new ResponseQueue<DiscoveryResponse__Output>();
  private readonly node: Node;
  private sentNode = false;

  constructor(port: number, node: Node) {
    this.node = node;
    this.client = newClient(port);
    this.call = this.client.StreamAggregatedResources();
    this.call.on('data', (r: DiscoveryResponse__Output) => this.queue.push(r));
    this.call.on('status', (s) => this.queue.end(s));
    this.call.on('error', () => {});
  }

  /** Sends a request; `node` goes on the first one only, as real clients do. */
  send(request: Omit<DiscoveryRequest, 'node'>): void {
    this.call.write(this.sentNode ? request : { ...request, node: this.node });
    this.sentNode = true;
  }

  /** ACKs `response` for the given names (SotW requests always carry the full list). */
  ack(response: DiscoveryResponse__Output, names: string[] = []): void {
    this.send({
      type_url: response.type_url,
      version_info: response.version_info,
      response_nonce: response.nonce,
      resource_names: names,
    });
  }

  nack(response: DiscoveryResponse__Output, acceptedVersion: string, message: string, names: string[] = []): void {
    this.send({
      type_url: response.type_url,
      version_info: acceptedVersion,
      response_nonce: response.nonce,
      resource_names: names,
      error_detail: { code: grpc.status.INVALID_ARGUMENT, message },
    });
  }

  next(what = 'response', timeoutMs = DEFAULT_TIMEOUT_MS): Promise<DiscoveryResponse__Output> {
    return this.queue.next(what, timeoutMs);
  }

  pending(): readonly DiscoveryResponse__Output[] {
    return this.queue.pending();
  }

  /** Whether the server (or a cancel) has ended the stream. */
  ended(): boolean {
    return this.queue.ended !== undefined;
  }

  status(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<grpc.StatusObject> {
    return this.queue.status(timeoutMs);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

export class DeltaTestClient {
  private readonly client: AggregatedDiscoveryServiceClient;
  private readonly call: grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output>;
  private readonly queue = new ResponseQueue<DeltaDiscoveryResponse__Output>();
  private readonly node: Node;
  private sentNode = false;

  constructor(port: number, node: Node) {
    this.node = node;
    this.client = newClient(port);
    this.call = this.client.DeltaAggregatedResources();
    this.call.on('data', (r: DeltaDiscoveryResponse__Output) => this.queue.push(r));
    this.call.on('status', (s) => this.queue.end(s));
    this.call.on('error', () => {});
  }

  send(request: Omit<DeltaDiscoveryRequest, 'node'>): void {
    this.call.write(this.sentNode ? request : { ...request, node: this.node });
    this.sentNode = true;
  }

  ack(response: DeltaDiscoveryResponse__Output): void {
    this.send({ type_url: response.type_url, response_nonce: response.nonce });
  }

  next(what = 'response', timeoutMs = DEFAULT_TIMEOUT_MS): Promise<DeltaDiscoveryResponse__Output> {
    return this.queue.next(what, timeoutMs);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

/** Opens a stream that writes raw bytes as request frames (to send what no proto client would). */
export function rawAdsStream(port: number): {
  write(bytes: Buffer): void;
  status(timeoutMs?: number): Promise<grpc.StatusObject>;
  close(): void;
} {
  const identity = (b: Buffer) => b;
  const Raw = grpc.makeGenericClientConstructor(
    {
      Stream: {
        path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
        requestStream: true,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    'RawAds',
  );
  const client = new Raw(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Stream(): grpc.ClientDuplexStream<Buffer, Buffer>;
  };
  const call = client.Stream();
  const queue = new ResponseQueue<Buffer>();
  call.on('data', (b: Buffer) => queue.push(b));
  call.on('status', (s) => queue.end(s));
  call.on('error', () => {});
  return {
    write: (bytes) => call.write(bytes),
    status: (timeoutMs = DEFAULT_TIMEOUT_MS) => queue.status(timeoutMs),
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

/** Polls `check` until it returns without throwing, or rethrows its last error at the deadline. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
