/**
 * Envoy's xDS protos, loaded once from the `.proto` files bundled in `@grpc/grpc-js-xds` (deps/),
 * with TypeScript types generated from the same files into `src/generated/` (`make gen-protos`).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as AdsGrpcType } from './generated/ads.ts';
import type { Any } from './generated/google/protobuf/Any.ts';
import type { Struct, Struct__Output } from './generated/google/protobuf/Struct.ts';
import type { Value, Value__Output } from './generated/google/protobuf/Value.ts';
import { TYPE_URL, type TypeUrl } from './type-urls.ts';

const require = createRequire(import.meta.url);
const depsDir = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

export const PROTO_INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) =>
  path.join(depsDir, d),
);

/** The proto files we load; their transitive closure is what `src/generated/` holds. */
export const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'xds/type/v3/typed_struct.proto',
];

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: PROTO_INCLUDE_DIRS,
};

let cached: protoLoader.PackageDefinition | undefined;

export function xdsPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(PROTO_FILES, PROTO_LOADER_OPTIONS);
  return cached;
}

/** The ADS gRPC service (SotW and delta streams), typed from the generated code. */
export function adsGrpc(): AdsGrpcType {
  return grpc.loadPackageDefinition(xdsPackageDefinition()) as unknown as AdsGrpcType;
}

const MESSAGE_NAME: Record<
  TypeUrl | 'typedStruct' | 'httpConnectionManager' | 'router' | 'httpProtocolOptions' | 'downstreamTlsContext',
  string
> = {
  [TYPE_URL.listener]: 'envoy.config.listener.v3.Listener',
  [TYPE_URL.routeConfiguration]: 'envoy.config.route.v3.RouteConfiguration',
  [TYPE_URL.cluster]: 'envoy.config.cluster.v3.Cluster',
  [TYPE_URL.clusterLoadAssignment]: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  typedStruct: 'xds.type.v3.TypedStruct',
  httpConnectionManager: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'envoy.extensions.filters.http.router.v3.Router',
  httpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  downstreamTlsContext: 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
};

export type MessageKind = keyof typeof MESSAGE_NAME;

function messageType(fullName: string): protoLoader.MessageTypeDefinition<object, unknown> {
  const def = xdsPackageDefinition()[fullName];
  if (!def || !('serialize' in def)) throw new Error(`proto message ${fullName} is not loaded`);
  return def as protoLoader.MessageTypeDefinition<object, unknown>;
}

/** Serializes `message` as the proto named by `kind`. */
export function encodeMessage(kind: MessageKind, message: object): Buffer {
  return messageType(MESSAGE_NAME[kind]).serialize(message);
}

/** Decodes bytes as the proto named by `kind`; throws on malformed input. */
export function decodeMessage<T>(kind: MessageKind, bytes: Buffer | Uint8Array): T {
  return messageType(MESSAGE_NAME[kind]).deserialize(Buffer.from(bytes)) as T;
}

/** Packs a message into `google.protobuf.Any` with its `type.googleapis.com/...` URL. */
export function packAny(kind: MessageKind, message: object): Any {
  return { type_url: `type.googleapis.com/${MESSAGE_NAME[kind]}`, value: encodeMessage(kind, message) };
}

/** A JSON value as `google.protobuf.Value` (protobufjs keeps camelCase names for the well-known types). */
export function toProtoValue(value: unknown): Value {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toProtoValue) } };
  return { structValue: toProtoStruct(value as Record<string, unknown>) };
}

/** A JSON object as `google.protobuf.Struct`; keys are sorted so equal objects encode equally. */
export function toProtoStruct(object: Record<string, unknown>): Struct {
  const fields: Record<string, Value> = {};
  for (const key of Object.keys(object).sort()) {
    if (object[key] !== undefined) fields[key] = toProtoValue(object[key]);
  }
  return { fields };
}

export function fromProtoValue(value: Value__Output | null | undefined): unknown {
  if (!value) return null;
  switch (value.kind) {
    case 'numberValue':
      return value.numberValue;
    case 'stringValue':
      return value.stringValue;
    case 'boolValue':
      return value.boolValue;
    case 'structValue':
      return fromProtoStruct(value.structValue);
    case 'listValue':
      return (value.listValue?.values ?? []).map(fromProtoValue);
    default:
      return null;
  }
}

export function fromProtoStruct(struct: Struct__Output | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = fromProtoValue(value);
  return out;
}
