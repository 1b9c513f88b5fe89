/**
 * The one name scheme shared by the control plane, its xDS resources and the client.
 *
 * A service port is written `<namespace>/<service>:<port>`, where `<port>` is the Service port's
 * name, or its number when the port is unnamed. That exact string is the Cluster name, the EDS
 * service name (ClusterLoadAssignment.cluster_name) and the gRPC proxyless Listener name, so
 * `skewless:///default/backend:grpc` subscribes to exactly that resource.
 *
 * Proxyless gRPC clients (`xds:///`) put the target host into the HTTP/2 `:authority`, where a
 * `/` is invalid, so their Listener also has a DNS-style alias, as Istio names them:
 * `<service>.<namespace>.svc.<clusterDomain>:<servicePort>` (`xds:///backend.default.svc.cluster.local:50051`).
 */
export interface ServiceKey {
  readonly namespace: string;
  readonly service: string;
  /** Service port name, or the decimal port number when the port has no name. */
  readonly port: string;
}

// RFC 1123 labels (namespaces, port names) and DNS-1035 labels (Service names), as Kubernetes uses them.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

export function formatServiceKey(key: ServiceKey): string {
  return `${key.namespace}/${key.service}:${key.port}`;
}

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** The DNS-style Listener alias a proxyless gRPC client dials, e.g. `backend.default.svc.cluster.local:50051`. */
export function dnsListenerName(key: ServiceKey, servicePort: number, clusterDomain = DEFAULT_CLUSTER_DOMAIN): string {
  return `${key.service}.${key.namespace}.svc.${clusterDomain}:${servicePort}`;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses `<namespace>/<service>:<port>`; the error says which part is wrong and why. */
export function parseServiceKey(text: string): ParseResult<ServiceKey> {
  const match = /^([^/]*)\/([^:]*):(.*)$/.exec(text);
  if (!match) {
    return { ok: false, error: `"${text}" is not of the form <namespace>/<service>:<port>` };
  }
  const [, namespace = '', service = '', port = ''] = match;
  if (!DNS_LABEL.test(namespace)) {
    return { ok: false, error: `"${text}": namespace "${namespace}" is not a DNS label` };
  }
  if (!DNS_LABEL.test(service)) {
    return { ok: false, error: `"${text}": service "${service}" is not a DNS label` };
  }
  const isNumber = /^[0-9]+$/.test(port);
  if (isNumber ? Number(port) < 1 || Number(port) > 65535 : !PORT_NAME.test(port)) {
    return { ok: false, error: `"${text}": port "${port}" is neither a port name nor a number in 1..65535` };
  }
  return { ok: true, value: { namespace, service, port } };
}
