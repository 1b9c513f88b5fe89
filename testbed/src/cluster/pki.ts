/**
 * Per-cluster certificates and keys, made with the `openssl` command: one CA, the API server's serving
 * certificate, a client certificate for every component (each its own Kubernetes identity, so RBAC and
 * the Node authorizer see what they would in a real cluster), and the service-account key pair.
 * ECDSA P-256 throughout: quick to generate, accepted everywhere. Valid for 7 days; clusters are short-lived.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

const run = promisify(execFile);
const DAYS = '7';

export interface ClientIdentity {
  /** Certificate CN: the Kubernetes user name. */
  readonly user: string;
  /** Certificate O entries: the Kubernetes groups. */
  readonly groups: readonly string[];
}

export interface CertPair {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ClusterPki {
  readonly dir: string;
  readonly caFile: string;
  readonly caKeyFile: string;
  readonly apiserver: CertPair;
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
  /** Issues a client certificate for `identity` (files named after `name`). */
  issueClient(name: string, identity: ClientIdentity): Promise<CertPair>;
  /** Issues a serving certificate for `identity` covering `sans` (a node agent's kubelet API). */
  issueServing(name: string, identity: ClientIdentity, sans: SubjectAltNames): Promise<CertPair>;
  /** Writes a kubeconfig for `server` authenticating with `pair`; returns its path. */
  writeKubeconfig(name: string, server: string, pair: CertPair): string;
}

export interface SubjectAltNames {
  readonly ips: readonly string[];
  readonly names: readonly string[];
}

export interface ClusterPkiOptions {
  /** IP addresses and DNS names the API server's certificate must cover. */
  readonly apiserverIps: readonly string[];
  readonly apiserverNames: readonly string[];
}

export async function createClusterPki(dir: string, options: ClusterPkiOptions): Promise<ClusterPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  await openssl([
    'req',
    '-x509',
    ...newKey(caKeyFile),
    '-subj',
    '/CN=skewless-local-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-out',
    caFile,
  ]);

  const issue = async (name: string, subject: string, extensions: string[]): Promise<CertPair> => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    await openssl([
      'req',
      '-x509',
      ...newKey(keyFile),
      '-CA',
      caFile,
      '-CAkey',
      caKeyFile,
      '-subj',
      subject,
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      ...extensions.flatMap((extension) => ['-addext', extension]),
      '-out',
      certFile,
    ]);
    return { certFile, keyFile };
  };

  const serving = (name: string, subject: string, sans: SubjectAltNames) =>
    issue(name, subject, [
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${[...sans.ips.map((ip) => `IP:${ip}`), ...sans.names.map((n) => `DNS:${n}`)].join(',')}`,
    ]);
  const apiserver = await serving('apiserver', '/CN=kube-apiserver', {
    ips: options.apiserverIps,
    names: options.apiserverNames,
  });

  const serviceAccountKeyFile = join(dir, 'service-account.key');
  const serviceAccountPublicKeyFile = join(dir, 'service-account.pub');
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', serviceAccountKeyFile]);
  await openssl(['pkey', '-in', serviceAccountKeyFile, '-pubout', '-out', serviceAccountPublicKeyFile]);

  return {
    dir,
    caFile,
    caKeyFile,
    apiserver,
    serviceAccountKeyFile,
    serviceAccountPublicKeyFile,
    issueClient: (name, identity) => issue(name, subjectOf(identity), ['extendedKeyUsage=clientAuth']),
    issueServing: (name, identity, sans) => serving(name, subjectOf(identity), sans),
    writeKubeconfig(name, server, pair) {
      const path = join(dir, `${name}.kubeconfig`);
      writeFileSync(path, kubeconfigYaml(server, caFile, pair), { mode: 0o600 });
      return path;
    },
  };
}

/** A kubeconfig with every file inlined, so it can be copied anywhere (including into a pod). */
export function kubeconfigYaml(server: string, caFile: string, pair: CertPair): string {
  const b64 = (file: string) => readFileSync(file).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'skewless-local', cluster: { server, 'certificate-authority-data': b64(caFile) } }],
    users: [
      {
        name: 'skewless',
        user: { 'client-certificate-data': b64(pair.certFile), 'client-key-data': b64(pair.keyFile) },
      },
    ],
    contexts: [{ name: 'skewless-local', context: { cluster: 'skewless-local', user: 'skewless' } }],
    'current-context': 'skewless-local',
  });
}

export function loadKubeConfig(path: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return kubeConfig;
}

function subjectOf(identity: ClientIdentity): string {
  // O before CN; `/` and `=` never occur in Kubernetes user and group names we issue.
  return [...identity.groups.map((group) => `/O=${group}`), `/CN=${identity.user}`].join('');
}

function newKey(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-days', DAYS];
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const { stderr, code } = error as { stderr?: string; code?: string | number };
    if (code === 'ENOENT') throw new Error("'openssl' is not on PATH: install Debian's openssl package (make tools)");
    throw new Error(`openssl ${args[0]} failed: ${String(stderr ?? error).trim()}`);
  }
}
