/**
 * A pod's /etc/resolv.conf, derived as a kubelet derives it (pkg/kubelet/network/dns) from the pod's
 * `dnsPolicy` and `dnsConfig`, the node's `--cluster-dns`/`--cluster-domain`, and the machine's own
 * resolv.conf (`--resolv-conf`). Pure: the runner reads the host file and writes the result.
 *
 *   ClusterFirst (default)  the cluster DNS, `<ns>.svc.<domain> svc.<domain> <domain>` + the host's
 *                           search list, `ndots:5`; a host-network pod, or a node without cluster
 *                           DNS, gets Default instead (as a kubelet does)
 *   ClusterFirstWithHostNet ClusterFirst, host network or not
 *   Default                 the host's nameservers, search list and options
 *   None                    nothing but `dnsConfig`
 *
 * `dnsConfig` is then appended (nameservers, searches: duplicates dropped) or merged (options: a later
 * one of the same name wins), and the lists are cut to what a resolver reads: 3 nameservers, 32
 * search domains.
 */
import type { V1Pod } from '@kubernetes/client-node';

export interface ClusterDns {
  /** The kubelet's `--cluster-dns`: the `kube-dns` Service's ClusterIP(s). Empty: no cluster DNS. */
  readonly clusterDNS: readonly string[];
  /** The kubelet's `--cluster-domain`, e.g. `cluster.local`. */
  readonly clusterDomain: string;
}

export interface ResolvConf {
  readonly nameservers: readonly string[];
  readonly searches: readonly string[];
  /** `name` or `name:value`, as written in resolv.conf. */
  readonly options: readonly string[];
}

const MAX_NAMESERVERS = 3;
const MAX_SEARCHES = 32;
const CLUSTER_FIRST_OPTIONS = ['ndots:5'];

export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let searches: string[] = [];
  const options: string[] = [];
  for (const raw of text.split('\n')) {
    const fields = (raw.split(/[#;]/)[0] ?? '').trim().split(/\s+/);
    const [keyword, ...rest] = fields;
    if (keyword === 'nameserver' && rest[0]) nameservers.push(rest[0]);
    // The last `search` (or `domain`) line wins, as in the resolver; a trailing dot means the same name.
    else if (keyword === 'search' || keyword === 'domain')
      searches = rest.map((d) => d.replace(/\.$/, '')).filter((d) => d !== '');
    else if (keyword === 'options') options.push(...rest);
  }
  return { nameservers, searches, options };
}

export function formatResolvConf(conf: ResolvConf): string {
  const lines = [
    ...conf.nameservers.map((ns) => `nameserver ${ns}`),
    ...(conf.searches.length > 0 ? [`search ${conf.searches.join(' ')}`] : []),
    ...(conf.options.length > 0 ? [`options ${conf.options.join(' ')}`] : []),
  ];
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** The resolv.conf a kubelet would give `pod` on a node with `cluster` settings and `host` as its resolv.conf. */
export function podResolvConf(pod: V1Pod, cluster: ClusterDns, host: ResolvConf): ResolvConf {
  const policy = effectivePolicy(pod, cluster);
  let base: ResolvConf;
  if (policy === 'None') base = { nameservers: [], searches: [], options: [] };
  else if (policy === 'Default') base = host;
  else {
    const namespace = pod.metadata?.namespace || 'default';
    const domain = cluster.clusterDomain;
    const clusterSearches = domain ? [`${namespace}.svc.${domain}`, `svc.${domain}`, domain] : [];
    base = {
      nameservers: cluster.clusterDNS,
      searches: distinct([...clusterSearches, ...host.searches]),
      options: CLUSTER_FIRST_OPTIONS,
    };
  }
  const extra = pod.spec?.dnsConfig;
  const options = mergeOptions(
    base.options,
    (extra?.options ?? []).map((o) => (o.value ? `${o.name}:${o.value}` : (o.name ?? ''))),
  );
  return {
    nameservers: distinct([...base.nameservers, ...(extra?.nameservers ?? [])]).slice(0, MAX_NAMESERVERS),
    searches: distinct([...base.searches, ...(extra?.searches ?? [])]).slice(0, MAX_SEARCHES),
    options,
  };
}

function effectivePolicy(pod: V1Pod, cluster: ClusterDns): 'ClusterFirst' | 'Default' | 'None' {
  const policy = pod.spec?.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'None' || policy === 'Default') return policy;
  const noClusterDns = cluster.clusterDNS.length === 0;
  if (noClusterDns || (policy === 'ClusterFirst' && pod.spec?.hostNetwork)) return 'Default';
  return 'ClusterFirst';
}

function distinct(values: readonly string[]): string[] {
  return [...new Set(values.filter((v) => v !== ''))];
}

/** Options by name, first position kept, last value winning (the kubelet's mergeDNSOptions). */
function mergeOptions(base: readonly string[], extra: readonly string[]): string[] {
  const byName = new Map<string, string>();
  for (const option of [...base, ...extra]) {
    if (option === '') continue;
    byName.set(option.split(':')[0] ?? option, option);
  }
  return [...byName.values()];
}
