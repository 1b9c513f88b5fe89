/**
 * Last-resort discovery through the headless Service's DNS, used only while the control plane has
 * never answered for a service. It yields addresses without zone, health or weight (all UNKNOWN,
 * so they are balanced like healthy endpoints, with no zone affinity). A named port needs the
 * SRV record Kubernetes publishes for it; a numeric port uses A/AAAA records.
 */
import { promises as dnsPromises } from 'node:dns';
import type { ServiceKey } from '@skewless/shared';
import { type AssignedEndpoint, endpointKey } from './eds-assignment.ts';

export interface DnsLookup {
  resolveSrv(name: string): Promise<{ name: string; port: number }[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

export const systemDns: DnsLookup = dnsPromises;

async function addressesOf(host: string, dns: DnsLookup): Promise<string[]> {
  const settled = await Promise.allSettled([dns.resolve4(host), dns.resolve6(host)]);
  return settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
}

/** Resolves the service's endpoints; rejects when DNS has nothing. */
export async function resolveHeadlessService(
  key: ServiceKey,
  domain: string,
  dns: DnsLookup,
): Promise<AssignedEndpoint[]> {
  const serviceHost = `${key.service}.${key.namespace}.svc.${domain}`;
  const pairs: { host: string; port: number }[] = [];
  if (/^[0-9]+$/.test(key.port)) {
    for (const host of await addressesOf(serviceHost, dns)) pairs.push({ host, port: Number(key.port) });
  } else {
    const records = await dns.resolveSrv(`_${key.port}._tcp.${serviceHost}`);
    for (const record of records) {
      for (const host of await addressesOf(record.name, dns)) pairs.push({ host, port: record.port });
    }
  }
  if (pairs.length === 0) throw new Error(`DNS fallback: no addresses for ${serviceHost}`);
  const byKey = new Map<string, AssignedEndpoint>();
  for (const { host, port } of pairs) {
    const k = endpointKey(host, port);
    byKey.set(k, { key: k, host, port, zone: '', health: 'UNKNOWN', weight: 1, priority: 0, metadata: {} });
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
}
