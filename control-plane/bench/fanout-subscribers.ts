/**
 * The subscriber side of the fan-out benchmark, run as its own process so the control plane's
 * numbers are not mixed with the clients'. Opens N ADS streams over N real connections (as N pods
 * would), subscribes each to a few EDS resources, ACKs every response, and reports to the parent
 * when every subscriber of a changed resource has seen that round's change.
 *
 * A round's change is recognizable in the data itself: the changed endpoint's port is 20000 + round.
 * One process plays 1,000 pods, so it must not charge its own decoding to the control plane: a
 * response is timestamped and ACKed on arrival and decoded (to confirm the round) only once every
 * expected copy has arrived. Real clients validate before they ACK; here the ACK only keeps the
 * stream flowing, which is all the server needs to send the next version.
 */
import * as grpc from '@grpc/grpc-js';
import { adsGrpc, type ClusterLoadAssignment__Output, decodeMessage, TYPE_URL } from '@skewless/shared';

interface Args {
  target: string;
  /** This process plays subscribers firstIndex .. firstIndex + subscribers - 1 of the whole fleet. */
  firstIndex: number;
  subscribers: number;
  services: string[];
  servicesPerSubscriber: number;
}

interface RoundMessage {
  type: 'round' | 'stop';
  round: number;
  changed: string[];
  t0Ms: number;
  timeoutMs: number;
}

/** The latest copy of a resource one subscriber received, and when; `round` is decoded lazily. */
interface Received {
  bytes: Buffer;
  atMs: number;
  round?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const send = (message: unknown) => process.send?.(message);
const now = () => performance.timeOrigin + performance.now();

/** Resource name → subscriber → latest copy received. */
const seen = new Map<string, Map<number, Received>>();
const subscribersOf = new Map<string, number[]>();
const clients: grpc.Client[] = [];
let initialPending = args.subscribers;

/**
 * cluster_name is field 1 of ClusterLoadAssignment and encoders write it first: read it without
 * decoding the rest (tag 0x0a, a varint length, the UTF-8 bytes).
 */
function nameOf(bytes: Buffer): string {
  if (bytes[0] !== 0x0a) {
    return decodeMessage<ClusterLoadAssignment__Output>(TYPE_URL.clusterLoadAssignment, bytes).cluster_name;
  }
  let length = 0;
  let shift = 0;
  let offset = 1;
  for (;;) {
    const byte = bytes[offset++] ?? 0;
    length |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7;
  }
  return bytes.toString('utf8', offset, offset + length);
}

function roundOf(copy: Received): number {
  if (copy.round === undefined) {
    const cla = decodeMessage<ClusterLoadAssignment__Output>(TYPE_URL.clusterLoadAssignment, copy.bytes);
    let round = 0;
    for (const locality of cla.endpoints) {
      for (const lb of locality.lb_endpoints) {
        const port = lb.endpoint?.address?.socket_address?.port_value ?? 0;
        if (port >= 20000) round = Math.max(round, port - 20000);
      }
    }
    copy.round = round;
  }
  return copy.round;
}

function subscribe(index: number, names: string[]): void {
  const Ads = adsGrpc().envoy.service.discovery.v3.AggregatedDiscoveryService;
  // A local subchannel pool gives every subscriber its own TCP connection, like separate pods.
  const client = new Ads(args.target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(client);
  const stream = client.StreamAggregatedResources();
  const node = { id: `bench-subscriber-${index}`, locality: { zone: `zone-${index % 3}` } };
  const waiting = new Set(names);
  stream.on('data', (response) => {
    const atMs = now();
    for (const any of response.resources) {
      const name = nameOf(any.value);
      seen.get(name)?.set(index, { bytes: any.value, atMs });
      if (waiting.delete(name) && waiting.size === 0) {
        initialPending -= 1;
        if (initialPending === 0) send({ type: 'ready' });
      }
    }
    stream.write({
      node,
      type_url: TYPE_URL.clusterLoadAssignment,
      resource_names: names,
      version_info: response.version_info,
      response_nonce: response.nonce,
    });
  });
  stream.on('error', (error: Error) => send({ type: 'error', message: `subscriber ${index}: ${error.message}` }));
  stream.write({ node, type_url: TYPE_URL.clusterLoadAssignment, resource_names: names });
}

/** Waits (bounded) until every subscriber of every changed resource holds a copy from this round. */
function awaitRound(message: RoundMessage): void {
  const deadline = now() + message.timeoutMs;
  const expected = message.changed.flatMap((name) =>
    (subscribersOf.get(name) ?? []).map((subscriber) => ({ name, subscriber })),
  );
  const check = () => {
    // Cheap pass: has a copy newer than the change arrived for every expected subscriber?
    const arrived = expected.map(({ name, subscriber }) => seen.get(name)?.get(subscriber));
    let missing = arrived.filter((copy) => !copy || copy.atMs < message.t0Ms).length;
    let last = 0;
    if (missing === 0) {
      // Confirm by decoding (now it costs the measurement nothing) that each copy is this round's.
      for (const copy of arrived as Received[]) {
        if (roundOf(copy) < message.round) missing += 1;
        else last = Math.max(last, copy.atMs);
      }
    }
    if (missing === 0) {
      // A process none of whose subscribers watch the changed services has nothing to wait for.
      const lastMs = expected.length === 0 ? undefined : last - message.t0Ms;
      return send({ type: 'round-done', round: message.round, lastMs });
    }
    if (now() > deadline) return send({ type: 'round-timeout', round: message.round, missing });
    setTimeout(check, 2);
  };
  check();
}

for (const name of args.services) {
  seen.set(name, new Map());
  subscribersOf.set(name, []);
}
for (let i = args.firstIndex; i < args.firstIndex + args.subscribers; i += 1) {
  const names: string[] = [];
  for (let k = 0; k < args.servicesPerSubscriber; k += 1) {
    const name = args.services[(i * 7 + k * 13) % args.services.length] ?? '';
    if (!names.includes(name)) names.push(name);
  }
  for (const name of names) subscribersOf.get(name)?.push(i);
  subscribe(i, names);
}

process.on('message', (message: RoundMessage) => {
  if (message.type === 'stop') {
    for (const client of clients) client.close();
    process.exit(0);
  }
  if (message.type === 'round') awaitRound(message);
});
