/**
 * Kubernetes Services + EndpointSlices → the endpoint model. Pure: no I/O, no clock, deterministic
 * output, and never throws — malformed parts become problems with paths and are skipped alone.
 *
 * A Service's endpoints are spread over many slices (the controller caps a slice at 100 endpoints
 * and may briefly list one address in two slices during a move), so every slice of a Service is
 * merged and addresses de-duplicated; treating one slice as the whole state is what makes
 * kuberesolver flap above 100 endpoints.
 */
import { formatServiceKey, type ServiceKey } from '@skewless/shared';
import type { EndpointHealth, EndpointRecord, ServicePortEndpoints } from './model.ts';
import { canonicalIPv4, canonicalIPv6 } from './translate-ip.ts';
import type { KubeEndpoint, KubeEndpointConditions, KubeEndpointSlice, KubeService } from './translate-kube-objects.ts';
import { DEFAULT_WEIGHT, type PodAnnotationLookup, readPodAnnotations } from './translate-pod-annotations.ts';
import type { TranslateProblem } from './translate-problem.ts';

export type { KubeEndpointSlice, KubeService } from './translate-kube-objects.ts';
export type { PodAnnotationLookup } from './translate-pod-annotations.ts';
export type { TranslateProblem } from './translate-problem.ts';

/** The label the EndpointSlice controller (and anyone writing slices by hand) sets to tie a slice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export interface TranslateResult {
  /** Sorted by name; endpoints sorted by address then port. */
  readonly services: ServicePortEndpoints[];
  readonly problems: TranslateProblem[];
}

export interface TranslateWorld {
  readonly services: readonly KubeService[];
  readonly slices: readonly KubeEndpointSlice[];
  /** Node name → its `topology.kubernetes.io/zone`, the fallback when a slice endpoint has no zone. */
  readonly nodeZones: ReadonlyMap<string, string>;
  readonly podAnnotations: PodAnnotationLookup;
}

/** `<namespace>/<name>` of the Service a slice belongs to, or undefined when the slice has no service-name label. */
export function sliceServiceId(slice: KubeEndpointSlice): string | undefined {
  const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return service ? `${slice.metadata?.namespace ?? ''}/${service}` : undefined;
}

export function serviceId(service: KubeService): string {
  return `${service.metadata?.namespace ?? ''}/${service.metadata?.name ?? ''}`;
}

/** Translates a whole world; slices whose Service does not exist (deleted, or not yet created) give nothing. */
export function translateSlices(world: TranslateWorld): TranslateResult {
  const slicesByService = new Map<string, KubeEndpointSlice[]>();
  for (const slice of world.slices) {
    const id = sliceServiceId(slice);
    if (id === undefined) continue;
    const list = slicesByService.get(id) ?? [];
    list.push(slice);
    slicesByService.set(id, list);
  }
  const services: ServicePortEndpoints[] = [];
  const problems: TranslateProblem[] = [];
  for (const service of world.services) {
    const result = translateService(service, slicesByService.get(serviceId(service)) ?? [], world);
    services.push(...result.services);
    problems.push(...result.problems);
  }
  services.sort((a, b) => compare(a.name, b.name));
  return { services, problems: dedupe(problems) };
}

/** One Service and all of its slices → one entry per TCP Service port (an empty list when no endpoint is known). */
export function translateService(
  service: KubeService,
  slices: readonly KubeEndpointSlice[],
  lookups: Pick<TranslateWorld, 'nodeZones' | 'podAnnotations'>,
): TranslateResult {
  const problems: TranslateProblem[] = [];
  if (service.spec?.type === 'ExternalName') return { services: [], problems };
  const namespace = service.metadata?.namespace ?? '';
  const name = service.metadata?.name ?? '';
  const parsed = [...slices]
    .sort((a, b) => compare(a.metadata?.name ?? '', b.metadata?.name ?? ''))
    .map((slice) => parseSlice(slice, lookups, problems))
    .filter((slice) => slice !== undefined);

  const services: ServicePortEndpoints[] = [];
  // gRPC and Envoy HTTP clusters speak TCP only; UDP/SCTP ports have nothing to balance here.
  for (const servicePort of service.spec?.ports ?? []) {
    if ((servicePort.protocol ?? 'TCP') !== 'TCP') continue;
    const portName = servicePort.name ?? '';
    const key: ServiceKey = { namespace, service: name, port: portName || String(servicePort.port) };
    const best = new Map<string, EndpointRecord>();
    for (const slice of parsed) {
      const port = slice.ports.get(portName);
      if (port === undefined) continue;
      for (const endpoint of slice.endpoints) {
        const record: EndpointRecord = { address: endpoint.address, port, ...endpoint.rest };
        const id = `${record.address}|${port}`;
        const seen = best.get(id);
        // Slices are visited in name order, so ties keep the same winner on every run.
        if (seen === undefined || HEALTH_RANK[record.health] < HEALTH_RANK[seen.health]) best.set(id, record);
      }
    }
    const endpoints = [...best.values()].sort((a, b) => compare(a.address, b.address) || a.port - b.port);
    services.push({
      key,
      name: formatServiceKey(key),
      servicePort: servicePort.port,
      ...(servicePort.appProtocol ? { appProtocol: servicePort.appProtocol } : {}),
      endpoints,
    });
  }
  return { services, problems: dedupe(problems) };
}

/** Lower is better: when one address appears twice, the healthiest sighting wins. */
const HEALTH_RANK: Record<EndpointHealth, number> = { HEALTHY: 0, DRAINING: 1, UNHEALTHY: 2 };

/**
 * EndpointConditions, read as the API documents them: `ready` and `serving` unset mean true,
 * `terminating` unset means false. Ready wins even while terminating (publishNotReadyAddresses).
 */
export function endpointHealth(conditions: KubeEndpointConditions | undefined): EndpointHealth {
  if (conditions?.ready ?? true) return 'HEALTHY';
  if ((conditions?.serving ?? true) && (conditions?.terminating ?? false)) return 'DRAINING';
  return 'UNHEALTHY';
}

interface ParsedSlice {
  /** Slice port name → port number; ports without a valid number are left out. */
  readonly ports: ReadonlyMap<string, number>;
  readonly endpoints: readonly { address: string; rest: Omit<EndpointRecord, 'address' | 'port'> }[];
}

function parseSlice(
  slice: KubeEndpointSlice,
  lookups: Pick<TranslateWorld, 'nodeZones' | 'podAnnotations'>,
  problems: TranslateProblem[],
): ParsedSlice | undefined {
  const namespace = slice.metadata?.namespace ?? '';
  const base = `${namespace}/${slice.metadata?.name ?? ''}`;
  const resourceVersion = slice.metadata?.resourceVersion;
  const problem = (path: string, message: string) =>
    problems.push({
      kind: 'EndpointSlice',
      path: `${base}.${path}`,
      message,
      ...(resourceVersion ? { resourceVersion } : {}),
    });

  const addressType = slice.addressType;
  // FQDN slices name hosts, not IPs: xDS clients NACK hostnames, so they are not ours to serve.
  if (addressType === 'FQDN') return undefined;
  if (addressType !== 'IPv4' && addressType !== 'IPv6') {
    problem('addressType', `unsupported address type: "${addressType}"`);
    return undefined;
  }

  const ports = new Map<string, number>();
  (slice.ports ?? []).forEach((port, i) => {
    if (port.port === undefined || port.port === null) {
      problem(`ports[${i}].port`, 'port without a number');
    } else if (!Number.isInteger(port.port) || port.port < 1 || port.port > 65535) {
      problem(`ports[${i}].port`, `not a port number in 1..65535: ${port.port}`);
    } else {
      ports.set(port.name ?? '', port.port);
    }
  });

  const endpoints: ParsedSlice['endpoints'][number][] = [];
  (slice.endpoints ?? []).forEach((endpoint, i) => {
    const first = endpoint.addresses?.[0];
    // The API defines no meaning for addresses after the first (kube-proxy ignores them too).
    if (first === undefined) {
      problem(`endpoints[${i}].addresses`, 'no addresses');
      return;
    }
    const v4 = canonicalIPv4(first);
    const v6 = canonicalIPv6(first);
    const address = addressType === 'IPv4' ? v4 : v6;
    if (address === undefined) {
      const message = (v4 ?? v6) ? `not an ${addressType} address: "${first}"` : `not an IP literal: "${first}"`;
      problem(`endpoints[${i}].addresses[0]`, message);
      return;
    }
    endpoints.push({ address, rest: describeEndpoint(endpoint, namespace, lookups, problems) });
  });
  return { ports, endpoints };
}

function describeEndpoint(
  endpoint: KubeEndpoint,
  sliceNamespace: string,
  lookups: Pick<TranslateWorld, 'nodeZones' | 'podAnnotations'>,
  problems: TranslateProblem[],
): Omit<EndpointRecord, 'address' | 'port'> {
  const node = endpoint.nodeName || undefined;
  const zone = endpoint.zone || (node !== undefined ? lookups.nodeZones.get(node) : undefined) || '';
  const ref = endpoint.targetRef;
  const pod = ref?.kind === 'Pod' && ref.name ? ref.name : undefined;
  const podNamespace = pod !== undefined ? ref?.namespace || sliceNamespace : undefined;
  const meta =
    pod !== undefined && podNamespace !== undefined
      ? readPodAnnotations(podNamespace, pod, lookups.podAnnotations(podNamespace, pod), problems)
      : { weight: DEFAULT_WEIGHT };
  return {
    health: endpointHealth(endpoint.conditions),
    zone,
    ...(node !== undefined ? { node } : {}),
    ...(pod !== undefined ? { pod, podNamespace } : {}),
    weight: meta.weight,
    ...(meta.shard !== undefined ? { shard: meta.shard } : {}),
  };
}

/** A Pod behind several ports or slices would otherwise report its bad annotation once per sighting. */
function dedupe(problems: TranslateProblem[]): TranslateProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const id = `${p.path}\n${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
