/**
 * Reads Envoy admin endpoints from inside the pod network (where pod IPs are reachable) and prints them
 * as one JSON line, `{"skewlessEnvoyAdmin":[…]}`: per Envoy, `/stats?format=json` narrowed to xDS,
 * listener, ingress and our clusters' stats, and `/clusters?format=json` (hosts with their counters).
 * e2e/src/envoy-ingress-stats.ts picks the numbers out.
 *
 * Environment: ADMIN — comma list of `<name>=<host:port>`, one per Envoy.
 */
import http from 'k6/http';
import type { Options } from 'k6/options';

/** xDS, listeners, the ingress HCM and our clusters (named `<namespace>/<service>:<port>`). */
const STATS_FILTER =
  '^(listener_manager\\.|cluster_manager\\.|control_plane\\.|server\\.state$|http\\.ingress\\.|listener\\..*\\.(ssl\\.handshake|downstream_cx_total)$|cluster\\.[^.]*/)';

export const options: Options = {
  scenarios: { read: { executor: 'shared-iterations', vus: 1, iterations: 1 } },
  setupTimeout: '30s',
};

interface EnvoyAdmin {
  readonly name: string;
  readonly address: string;
  readonly stats?: unknown;
  readonly clusters?: unknown;
  readonly error?: string;
}

function read(address: string, path: string): unknown {
  const response = http.get(`http://${address}${path}`, { timeout: '10s' });
  if (response.status !== 200) throw new Error(`GET ${path}: ${response.status || response.error}`);
  return response.json();
}

export function setup(): EnvoyAdmin[] {
  const admins = (__ENV.ADMIN ?? '').split(',').filter((s) => s !== '');
  if (admins.length === 0) throw new Error('envoy-admin: ADMIN is required (name=host:port,…)');
  return admins.map((entry) => {
    const [name = '', address = ''] = entry.split('=');
    try {
      return {
        name,
        address,
        stats: read(address, `/stats?format=json&filter=${encodeURIComponent(STATS_FILTER)}`),
        clusters: read(address, '/clusters?format=json'),
      };
    } catch (error) {
      return { name, address, error: String(error) };
    }
  });
}

export default function (): void {}

export function handleSummary(data: { readonly setup_data?: unknown }): Record<string, string> {
  return { stdout: `${JSON.stringify({ skewlessEnvoyAdmin: data.setup_data ?? [] })}\n` };
}
