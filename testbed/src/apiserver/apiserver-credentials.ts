/**
 * Per-run secrets kube-apiserver needs: a service-account signing key pair and a static admin token in
 * group system:masters (which RBAC lets do anything). The serving certificate is left to kube-apiserver
 * itself (`--cert-dir`), which self-signs one for 127.0.0.1 and writes its CA next to it.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ApiServerCredentials {
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
  readonly tokenAuthFile: string;
  readonly adminToken: string;
}

export function writeApiServerCredentials(dir: string): ApiServerCredentials {
  // ECDSA P-256: accepted for service-account tokens and far quicker to generate than RSA.
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const serviceAccountKeyFile = join(dir, 'service-account.key');
  const serviceAccountPublicKeyFile = join(dir, 'service-account.pub');
  writeFileSync(serviceAccountKeyFile, privateKey, { mode: 0o600 });
  writeFileSync(serviceAccountPublicKeyFile, publicKey);

  const adminToken = randomBytes(24).toString('hex');
  const tokenAuthFile = join(dir, 'tokens.csv');
  // token,user,uid,"group1,group2"
  writeFileSync(tokenAuthFile, `${adminToken},skewless-admin,skewless-admin,"system:masters"\n`, { mode: 0o600 });
  return { serviceAccountKeyFile, serviceAccountPublicKeyFile, tokenAuthFile, adminToken };
}
