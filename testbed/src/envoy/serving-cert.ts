/**
 * A TLS serving certificate for a test server (the Envoy ingress), made with the `openssl` command: its
 * own CA and one leaf for the given names and IPs, so clients can verify the server instead of skipping
 * verification. ECDSA P-256, valid for 7 days, like the cluster's own PKI (cluster/pki.ts).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ServingCertOptions {
  /** Subject CN of the leaf. */
  readonly commonName: string;
  /** subjectAltName DNS entries. */
  readonly dnsNames?: readonly string[];
  /** subjectAltName IP entries. */
  readonly ips?: readonly string[];
}

export interface ServingCert {
  /** The CA a client trusts (PEM file, and its text). */
  readonly caFile: string;
  readonly caPem: string;
  /** The leaf and its key, as a server loads them (PEM; Kubernetes `tls.crt` / `tls.key`). */
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Writes `ca.crt`, `ca.key`, `tls.crt` and `tls.key` into `dir` (created if missing). */
export async function makeServingCert(dir: string, options: ServingCertOptions): Promise<ServingCert> {
  const sans = [...(options.dnsNames ?? []).map((n) => `DNS:${n}`), ...(options.ips ?? []).map((ip) => `IP:${ip}`)];
  if (sans.length === 0) throw new Error('makeServingCert: give at least one DNS name or IP (clients match the SAN)');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  const newKey = (file: string) => [
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    file,
  ];
  await openssl([
    'req',
    '-x509',
    ...newKey(caKeyFile),
    '-days',
    '7',
    '-subj',
    `/CN=${options.commonName} test CA`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-out',
    caFile,
  ]);
  await openssl([
    'req',
    '-x509',
    ...newKey(keyFile),
    '-days',
    '7',
    '-CA',
    caFile,
    '-CAkey',
    caKeyFile,
    '-subj',
    `/CN=${options.commonName}`,
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    '-addext',
    'extendedKeyUsage=serverAuth',
    '-addext',
    `subjectAltName=${sans.join(',')}`,
    '-out',
    certFile,
  ]);
  const text = (file: string) => readFileSync(file, 'utf8');
  return { caFile, caPem: text(caFile), certFile, keyFile, certPem: text(certFile), keyPem: text(keyFile) };
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
