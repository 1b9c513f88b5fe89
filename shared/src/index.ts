export { Backoff, type BackoffOptions } from './backoff.ts';
export { applyNice, type CpuPriority } from './cpu-priority.ts';
export {
  ECHO_PROTO_FILE,
  ECHO_SERVICE_NAME,
  type EchoClient,
  type EchoClientConstructor,
  type EchoReply,
  type EchoRequest,
  echoGrpc,
  type StreamEchoRequest,
} from './echo-proto.ts';
export {
  type EndpointMetadata,
  FILTER_METADATA_KEY,
  type LocalityMetadata,
  POD_ANNOTATION,
} from './endpoint-metadata.ts';
export { createLogger, type Logger } from './logger.ts';
export { formatProblemList, issueProblem, type Problem } from './problem.ts';
export {
  DEFAULT_CLUSTER_DOMAIN,
  dnsListenerName,
  formatServiceKey,
  type ParseResult,
  parseServiceKey,
  type ServiceKey,
} from './service-name.ts';
export { isKnownTypeUrl, TYPE_SHORT_NAME, TYPE_URL, type TypeUrl } from './type-urls.ts';
export {
  adsGrpc,
  decodeMessage,
  encodeMessage,
  fromProtoStruct,
  fromProtoValue,
  type MessageKind,
  PROTO_FILES,
  PROTO_INCLUDE_DIRS,
  PROTO_LOADER_OPTIONS,
  packAny,
  toProtoStruct,
  toProtoValue,
  xdsPackageDefinition,
} from './xds-protos.ts';
export type * from './xds-types.ts';
