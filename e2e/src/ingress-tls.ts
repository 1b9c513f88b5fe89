/**
 * The Envoy ingress's TLS Secret: a CA and a serving certificate made per cluster for the ingress
 * Service's DNS names and ClusterIP, so it is made after the manifests are applied (the ClusterIP is
 * known then) — by the cluster session, before it waits for the Envoys.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoreV1Api } from '@kubernetes/client-node';
import { makeServingCert } from '@skewless/testbed';
import { NAMESPACE } from './namespace.ts';

/** The ingress objects of manifests/base/envoy-ingress.yaml. */
export const ENVOY_INGRESS = {
  deployment: 'envoy-ingress',
  service: 'envoy-ingress',
  port: 443,
  /** What k6 dials: the Service by cluster DNS (the certificate names it, and its ClusterIP). */
  host: `envoy-ingress.${NAMESPACE}.svc.cluster.local`,
  tlsSecret: 'envoy-ingress-tls',
  adminPort: 9901,
} as const;

/**
 * Makes the ingress's TLS Secret when it is missing — a CA and a leaf for the Service's DNS names and
 * ClusterIP (`tls.crt`, `tls.key`, and `ca.crt` for clients) — (the Envoys mount it).
 * Envoy pods created before the Secret existed are deleted so their Deployment replaces them: a kubelet
 * would retry the Secret volume by itself, the local node agent does not. Returns the CA (PEM).
 */
export async function ensureIngressTls(core: CoreV1Api): Promise<string> {
  const existing = await core
    .readNamespacedSecret({ name: ENVOY_INGRESS.tlsSecret, namespace: NAMESPACE })
    .catch(() => undefined);
  let caPem = existing?.data?.['ca.crt'] ? Buffer.from(existing.data['ca.crt'], 'base64').toString('utf8') : '';
  if (!existing) {
    caPem = await createTlsSecret(core);
    const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app=envoy-ingress' });
    for (const pod of pods.items) {
      const waiting = pod.status?.containerStatuses?.some(
        (c) => c.state?.waiting?.reason === 'CreateContainerConfigError',
      );
      if (waiting)
        await core.deleteNamespacedPod({ name: pod.metadata?.name ?? '', namespace: NAMESPACE }).catch(() => undefined);
    }
  }
  return caPem;
}

async function createTlsSecret(core: CoreV1Api): Promise<string> {
  const service = await core.readNamespacedService({ name: ENVOY_INGRESS.service, namespace: NAMESPACE });
  const clusterIp = service.spec?.clusterIP;
  const name = ENVOY_INGRESS.service;
  const dir = mkdtempSync(join(tmpdir(), 'skewless-ingress-tls-'));
  try {
    const cert = await makeServingCert(dir, {
      commonName: name,
      dnsNames: [name, `${name}.${NAMESPACE}`, `${name}.${NAMESPACE}.svc`, ENVOY_INGRESS.host],
      ips: clusterIp && clusterIp !== 'None' ? [clusterIp] : [],
    });
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    await core.createNamespacedSecret({
      namespace: NAMESPACE,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: {
          name: ENVOY_INGRESS.tlsSecret,
          namespace: NAMESPACE,
          labels: { 'app.kubernetes.io/name': 'envoy-ingress', 'app.kubernetes.io/part-of': 'skewless' },
        },
        data: { 'tls.crt': b64(cert.certPem), 'tls.key': b64(cert.keyPem), 'ca.crt': b64(cert.caPem) },
      },
    });
    return cert.caPem;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
