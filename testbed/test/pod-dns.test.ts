/**
 * A pod's resolv.conf from its dnsPolicy and dnsConfig, the node's cluster DNS and the machine's
 * resolv.conf (table-driven, as a kubelet derives it); the container script that mounts it; and the
 * CoreDNS addon agreeing with the cluster DNS address and domain the node agents are given. CoreDNS
 * answering inside a running cluster is covered by e2e/test/cluster-dns.test.ts.
 */
import { readFileSync } from 'node:fs';
import type { KubernetesObject, V1ConfigMap, V1Deployment, V1Pod, V1PodSpec, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CLUSTER_DNS_MANIFEST } from '../src/cluster/cluster-dns.ts';
import { CLUSTER_DNS_IP, CLUSTER_DOMAIN, SERVICE_CIDR } from '../src/cluster/cluster-network.ts';
import { imageRepository, resolveCommand } from '../src/node-agent/image-table.ts';
import { formatResolvConf, parseResolvConf, podResolvConf } from '../src/node-agent/pod-dns.ts';
import { containerScript } from '../src/node-agent/pod-spec.ts';

const cluster = { clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local' };
const host = parseResolvConf(
  '# the machine\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example. lab\noptions edns0 ndots:2\n',
);
const pod = (spec: Partial<V1PodSpec> = {}, namespace = 'skewless'): V1Pod => ({
  metadata: { name: 'p', namespace },
  spec: { containers: [], ...spec },
});

describe('a pod resolv.conf', () => {
  const cases: { name: string; pod: V1Pod; cluster?: typeof cluster; want: string }[] = [
    {
      name: 'ClusterFirst by default: the cluster DNS, the namespace search path before the host one, ndots:5',
      pod: pod(),
      want: [
        'nameserver 10.96.0.10',
        'search skewless.svc.cluster.local svc.cluster.local cluster.local corp.example lab',
        'options ndots:5',
      ].join('\n'),
    },
    {
      name: 'ClusterFirstWithHostNet is ClusterFirst for a pod on the pod network',
      pod: pod({ dnsPolicy: 'ClusterFirstWithHostNet' }, 'default'),
      want: [
        'nameserver 10.96.0.10',
        'search default.svc.cluster.local svc.cluster.local cluster.local corp.example lab',
        'options ndots:5',
      ].join('\n'),
    },
    {
      name: 'ClusterFirst on the host network falls back to Default',
      pod: pod({ hostNetwork: true }),
      want: 'nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example lab\noptions edns0 ndots:2',
    },
    {
      name: 'ClusterFirst on a node without cluster DNS falls back to Default',
      pod: pod(),
      cluster: { clusterDNS: [], clusterDomain: 'cluster.local' },
      want: 'nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example lab\noptions edns0 ndots:2',
    },
    {
      name: 'Default: the machine resolv.conf',
      pod: pod({ dnsPolicy: 'Default' }),
      want: 'nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example lab\noptions edns0 ndots:2',
    },
    {
      name: 'None: only dnsConfig',
      pod: pod({
        dnsPolicy: 'None',
        dnsConfig: { nameservers: ['10.0.0.1'], searches: ['a.example'], options: [{ name: 'ndots', value: '1' }] },
      }),
      want: 'nameserver 10.0.0.1\nsearch a.example\noptions ndots:1',
    },
    {
      name: 'dnsConfig is appended without duplicates, its options override by name, nameservers cut to 3',
      pod: pod({
        dnsConfig: {
          nameservers: ['10.96.0.10', '10.0.0.1', '10.0.0.2', '10.0.0.3'],
          searches: ['svc.cluster.local', 'extra.example'],
          options: [{ name: 'ndots', value: '2' }, { name: 'single-request-reopen' }, { name: 'timeout', value: '' }],
        },
      }),
      want: [
        'nameserver 10.96.0.10',
        'nameserver 10.0.0.1',
        'nameserver 10.0.0.2',
        'search skewless.svc.cluster.local svc.cluster.local cluster.local corp.example lab extra.example',
        'options ndots:2 single-request-reopen timeout',
      ].join('\n'),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(formatResolvConf(podResolvConf(c.pod, c.cluster ?? cluster, host))).toBe(`${c.want}\n`);
    });
  }

  it('keeps at most 32 search domains', () => {
    const searches = Array.from({ length: 40 }, (_, i) => `d${i}.example`);
    const conf = podResolvConf(pod({ dnsConfig: { searches } }), cluster, host);
    expect(conf.searches).toHaveLength(32);
    expect(conf.searches[0]).toBe('skewless.svc.cluster.local');
  });

  it('reads the resolver file format: comments, the last search line, several options lines', () => {
    const parsed = parseResolvConf(
      'nameserver 1.2.3.4 # note\n; old\nsearch a b\ndomain c\noptions rotate\noptions ndots:3\n',
    );
    expect(parsed).toEqual({ nameservers: ['1.2.3.4'], searches: ['c'], options: ['rotate', 'ndots:3'] });
    expect(formatResolvConf(parseResolvConf(''))).toBe('');
  });
});

describe('the container script', () => {
  it("bind-mounts the pod's resolv.conf over the file /etc/resolv.conf resolves to, found before /run is replaced", () => {
    const script = containerScript('p', [], '/', '/state/pods/u/resolv.conf').split('\n');
    const resolve = script.indexOf('resolv=$(readlink -f /etc/resolv.conf)');
    const tmpfs = script.findIndex((line) => line.startsWith('mount -t tmpfs'));
    const bind = script.indexOf(`mount --bind '/state/pods/u/resolv.conf' "$resolv"`);
    expect(resolve).toBeGreaterThan(0);
    expect(tmpfs).toBeGreaterThan(resolve);
    expect(bind).toBeGreaterThan(tmpfs);
    expect(containerScript('p', [])).not.toContain('resolv');
  });
});

describe('the CoreDNS addon', () => {
  const docs = parseAllDocuments(readFileSync(CLUSTER_DNS_MANIFEST, 'utf8')).map((d) => d.toJSON() as KubernetesObject);
  const byKind = <T extends KubernetesObject>(kind: string) => docs.find((d) => d.kind === kind) as T | undefined;

  it('serves kube-dns on the ClusterIP the node agents hand out, inside the service range', () => {
    const service = byKind<V1Service>('Service');
    expect(service?.metadata?.name).toBe('kube-dns');
    expect(service?.spec?.clusterIP).toBe(CLUSTER_DNS_IP);
    expect(CLUSTER_DNS_IP.startsWith(SERVICE_CIDR.split('.').slice(0, 2).join('.'))).toBe(true);
  });

  it("answers for the node agents' cluster domain and forwards nothing outside the cluster", () => {
    const corefile = byKind<V1ConfigMap>('ConfigMap')?.data?.Corefile ?? '';
    expect(corefile).toMatch(new RegExp(`^\\s*kubernetes ${CLUSTER_DOMAIN.replace('.', '\\.')} `, 'm'));
    expect(corefile).not.toMatch(/^\s*forward\b/m);
  });

  it('runs an image the node agent maps to the CoreDNS the bootstrap builds', () => {
    const image = byKind<V1Deployment>('Deployment')?.spec?.template.spec?.containers[0]?.image ?? '';
    expect(imageRepository(image)).toBe('coredns/coredns');
    const resolved = resolveCommand(image, [], ['-conf', '/run/coredns/Corefile']);
    expect(resolved.ok && resolved.argv[0]?.endsWith('/bin/coredns')).toBe(true);
  });
});
