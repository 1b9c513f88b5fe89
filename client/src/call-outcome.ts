/**
 * Which call endings count against the endpoint for outlier ejection. Application errors
 * (NOT_FOUND, INVALID_ARGUMENT, ...) and client cancellations are not the endpoint's fault;
 * transport and server failures are (the gRPC analogue of Envoy's consecutive 5xx).
 */
import { status } from '@grpc/grpc-js';

const ENDPOINT_FAILURES = new Set<number>([
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.INTERNAL,
  status.UNAVAILABLE,
  status.DATA_LOSS,
]);

export function isEndpointFailure(code: number): boolean {
  return ENDPOINT_FAILURES.has(code);
}
