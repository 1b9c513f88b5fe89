/**
 * The local cluster's DNS addon: CoreDNS in kube-system behind `kube-dns` (cluster-dns.yaml), applied with
 * kubectl the way kubeadm's addon phase would, then waited for until every replica is Ready — so pods
 * started after the cluster is up resolve `<svc>.<ns>.svc.cluster.local` from their first lookup.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '@skewless/shared';
import { toolPath } from '../apiserver/tool-path.ts';

const run = promisify(execFile);

export const CLUSTER_DNS_MANIFEST = join(import.meta.dirname, 'cluster-dns.yaml');
const NAMESPACE = 'kube-system';
const DEPLOYMENT = 'coredns';

export async function installClusterDns(
  kubeconfigPath: string,
  kubeConfig: KubeConfig,
  logger: Logger,
  timeoutMs = 90_000,
): Promise<void> {
  // Both fail fast with how to install them, rather than as a pod stuck in ErrImagePull.
  const kubectl = toolPath('kubectl');
  toolPath('coredns');
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const began = performance.now();
  const overdue = () => performance.now() - began > timeoutMs;
  // The service-account token volume of a kube-system pod needs kube-system's root CA ConfigMap.
  while (!(await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: NAMESPACE }).catch(() => false))) {
    if (overdue()) throw new Error(`kube-root-ca.crt never appeared in ${NAMESPACE}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    await run(kubectl, ['--kubeconfig', kubeconfigPath, 'apply', '-f', CLUSTER_DNS_MANIFEST]);
  } catch (error) {
    throw new Error(
      `kubectl apply -f ${CLUSTER_DNS_MANIFEST} failed: ${(error as { stderr?: string }).stderr ?? error}`,
    );
  }
  let last = 'no status yet';
  for (;;) {
    const found = await apps.readNamespacedDeployment({ name: DEPLOYMENT, namespace: NAMESPACE });
    const want = found.spec?.replicas ?? 1;
    const ready = found.status?.readyReplicas ?? 0;
    if (ready >= want && (found.status?.observedGeneration ?? 0) >= (found.metadata?.generation ?? 0)) return;
    last = `${ready}/${want} Ready`;
    if (overdue()) throw new Error(`CoreDNS not ready after ${timeoutMs} ms (${last}): ${await podStates(core)}`);
    if (performance.now() - began > 10_000) logger.info({ last }, 'waiting for CoreDNS');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What each CoreDNS pod is waiting on, for a timeout's message. */
async function podStates(core: CoreV1Api): Promise<string> {
  const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'k8s-app=kube-dns' });
  if (pods.items.length === 0) return 'no pods (check the ReplicaSet events)';
  return pods.items
    .map((pod) => {
      const state = pod.status?.containerStatuses?.[0]?.state;
      const why = state?.waiting
        ? `${state.waiting.reason}: ${state.waiting.message ?? ''}`
        : state?.running
          ? 'running, not ready'
          : (pod.status?.phase ?? 'Pending');
      return `${pod.metadata?.name} on ${pod.spec?.nodeName ?? 'no node'}: ${why}`;
    })
    .join('; ');
}
