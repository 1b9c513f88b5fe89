/**
 * Cluster DNS in the local cluster (issue #5's DNS baseline): CoreDNS in kube-system behind `kube-dns`,
 * the node agents' resolv.conf per dnsPolicy, and grpc-js's round_robin over the headless Service's
 * DNS name reaching every echo pod. Lookups go through glibc (`getent`, getaddrinfo — what grpc-js's
 * default resolver calls) inside pods, over UDP through kube-proxy's ClusterIP rules.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { localClusterDriver } from '@skewless/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterSession, NAMESPACE, openClusterSession } from '../src/cluster-session.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const HEADLESS = `echo-headless.${NAMESPACE}.svc.cluster.local`;
/** What a round-robin baseline client dials: grpc-js's dns resolver, then one subchannel per A record. */
const HEADLESS_TARGET = `dns:///${HEADLESS}:50051`;
let session: ClusterSession;

beforeAll(async () => {
  session = await openClusterSession({ repoRoot, driver: localClusterDriver() });
}, 300_000);

afterAll(async () => {
  await session?.close();
}, 60_000);

/** Runs `sh -c script` in a pod on the node of `zone` to completion; returns its output. */
async function inPod(name: string, zone: string, script: string, spec: Partial<V1Pod['spec']> = {}): Promise<string> {
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      nodeSelector: { 'topology.kubernetes.io/zone': zone },
      terminationGracePeriodSeconds: 1,
      // The image's entrypoint is replaced: the node agent runs the machine's sh and getent.
      containers: [{ name: 'probe', image: 'skewless/load:dev', command: ['sh', '-c', script] }],
      ...spec,
    },
  };
  await session.core.createNamespacedPod({ namespace: NAMESPACE, body: pod });
  try {
    const began = performance.now();
    for (;;) {
      const phase = (await session.core.readNamespacedPod({ name, namespace: NAMESPACE })).status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') break;
      if (performance.now() - began > 30_000) throw new Error(`pod ${name} still ${phase} after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return await session.cluster.podLogs(NAMESPACE, name, 'probe');
  } finally {
    await session.core.deleteNamespacedPod({ name, namespace: NAMESPACE }).catch(() => undefined);
  }
}

/** The section of `inPod` output between `== name ==` and the next header. */
function section(output: string, name: string): string {
  return output.split(`== ${name} ==\n`)[1]?.split('\n== ')[0] ?? '';
}

/** Distinct IPv4 addresses in `getent ahostsv4` / `getent hosts` output. */
function addresses(text: string): string[] {
  return [...new Set([...text.matchAll(/^(\d+\.\d+\.\d+\.\d+)\s/gm)].map((m) => m[1] ?? ''))].sort();
}

describe('cluster DNS', () => {
  it('runs CoreDNS in kube-system behind kube-dns at 10.96.0.10, every replica Ready', async () => {
    const service = await session.core.readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' });
    expect(service.spec?.clusterIP).toBe('10.96.0.10');
    expect(service.spec?.ports?.map((p) => `${p.port}/${p.protocol}`)).toEqual(['53/UDP', '53/TCP', '9153/TCP']);
    const pods = await session.core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns' });
    expect(pods.items.length).toBe(2);
    for (const pod of pods.items) {
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
  });

  it('resolves the headless Service to every echo pod and the ClusterIP Service to its ClusterIP, from every zone', async () => {
    const echoPods = (await session.echoPods()).filter((p) => p.ready);
    expect(echoPods).toHaveLength(9);
    const podIps = echoPods.map((p) => p.ip).sort();
    const clusterIp = (await session.echoClusterIp()).split(':')[0];
    const somePod = podIps[0] ?? '';
    for (const zone of session.cluster.zones) {
      const output = await inPod(
        `dns-lookup-${zone}`,
        zone,
        [
          'echo "== resolv.conf =="; cat /etc/resolv.conf',
          `echo "== headless =="; getent ahostsv4 ${HEADLESS}`,
          `echo "== clusterip =="; getent hosts echo.${NAMESPACE}.svc.cluster.local`,
          // The short name, through the pod's namespace search path.
          'echo "== short =="; getent hosts echo',
          'echo "== kubernetes =="; getent hosts kubernetes.default',
          `echo "== pod =="; getent hosts ${somePod.replaceAll('.', '-')}.${NAMESPACE}.pod.cluster.local`,
          // Nothing is forwarded outside the cluster (network rule): the lookup fails, quickly.
          'echo "== outside =="; s=$(date +%s%N); getent hosts example.com; echo "exit $? after $(( ($(date +%s%N) - s) / 1000000 )) ms"',
        ].join('\n'),
      );
      expect(section(output, 'resolv.conf')).toBe(
        `nameserver 10.96.0.10\nsearch ${NAMESPACE}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5`,
      );
      expect(addresses(section(output, 'headless')), zone).toEqual(podIps);
      expect(addresses(section(output, 'clusterip'))).toEqual([clusterIp]);
      expect(addresses(section(output, 'short'))).toEqual([clusterIp]);
      expect(addresses(section(output, 'kubernetes'))).toEqual(['10.96.0.1']);
      expect(addresses(section(output, 'pod'))).toEqual([somePod]);
      const outside = /^exit (\d+) after (\d+) ms/m.exec(section(output, 'outside'));
      expect(Number(outside?.[1])).toBeGreaterThan(0);
      // REFUSED at once, not a resolver timeout (5 s) waiting on an upstream.
      expect(Number(outside?.[2])).toBeLessThan(3000);
    }
  }, 120_000);

  it('gives a dnsPolicy Default pod the machine resolv.conf, and a None pod only its dnsConfig', async () => {
    const hostDefault = await inPod('dns-policy-default', 'zone-a', 'cat /etc/resolv.conf', { dnsPolicy: 'Default' });
    const nameservers = (text: string) => [...text.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]);
    expect(nameservers(hostDefault)).toEqual(nameservers(readFileSync('/etc/resolv.conf', 'utf8')));
    const none = await inPod('dns-policy-none', 'zone-b', 'cat /etc/resolv.conf', {
      dnsPolicy: 'None',
      dnsConfig: {
        nameservers: ['10.96.0.10'],
        searches: ['example.internal'],
        options: [{ name: 'ndots', value: '2' }],
      },
    });
    expect(none).toBe('nameserver 10.96.0.10\nsearch example.internal\noptions ndots:2\n');
  }, 60_000);
});

describe('the DNS round-robin baseline', () => {
  it(`connects each grpc-js round_robin client to all 9 echo pods through ${HEADLESS_TARGET}, no call failing`, async () => {
    const echoPods = (await session.echoPods()).filter((p) => p.ready);
    const names = echoPods.map((p) => p.name).sort();
    const results = await session.runLoadPods(
      'dns-round-robin',
      session.cluster.zones.map((zone) => ({
        zone,
        args: [
          '--mode',
          'round-robin',
          '--target',
          HEADLESS_TARGET,
          '--rate',
          '90',
          '--duration-s',
          '5',
          '--channels',
          '1',
        ],
      })),
      60_000,
    );
    expect(results).toHaveLength(3);
    for (const result of results) {
      const counts = Object.fromEntries(result.perPod.map((p) => [p.pod, p.requests]));
      process.stderr.write(
        `[dns-rr] ${result.client} (${result.zone}): ${result.totals.ok} ok, ${result.totals.errors} errors, ` +
          `max/mean ${result.metrics.maxOverMean}, per pod ${JSON.stringify(counts)}\n`,
      );
      expect(result.waitReady.ready).toBe(true);
      expect(result.totals.errors).toBe(0);
      expect(result.totals.ok).toBeGreaterThanOrEqual(400);
      // Every pod answered this one client: one subchannel per A record, not one pod per connection.
      expect(Object.keys(counts).sort()).toEqual(names);
      // round_robin takes the READY subchannels in turn; a pod whose connection came up a moment late
      // misses a few calls at most.
      expect(result.metrics.maxOverMean).toBeLessThan(1.2);
    }
  }, 120_000);
});
