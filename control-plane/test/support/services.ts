/** Endpoint-model fixtures: what discovery would publish, built without Kubernetes. */
import { parseServiceKey } from '@skewless/shared';
import type { EndpointRecord, ServicePortEndpoints } from '../../src/model.ts';

export interface EndpointSpec {
  readonly address: string;
  readonly port?: number;
  readonly zone?: string;
  readonly health?: EndpointRecord['health'];
  readonly weight?: number;
  readonly pod?: string;
}

/** A service port `name` (`<ns>/<svc>:<port>`) with the given endpoints (addresses or specs). */
export function service(
  name: string,
  endpoints: readonly (string | EndpointSpec)[],
  opts: { appProtocol?: string } = {},
): ServicePortEndpoints {
  const parsed = parseServiceKey(name);
  if (!parsed.ok) throw new Error(parsed.error);
  const records: EndpointRecord[] = endpoints.map((e) => {
    const spec = typeof e === 'string' ? { address: e } : e;
    return {
      address: spec.address,
      port: spec.port ?? 8080,
      health: spec.health ?? 'HEALTHY',
      zone: spec.zone ?? 'zone-a',
      weight: spec.weight ?? 1,
      ...(spec.pod === undefined ? {} : { pod: spec.pod, podNamespace: parsed.value.namespace }),
    };
  });
  records.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
  return { key: parsed.value, name, servicePort: 8080, endpoints: records, ...opts };
}
