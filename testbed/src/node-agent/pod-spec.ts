/**
 * What a kubelet derives from a pod spec before it starts a container, for the parts our manifests use:
 * environment (literal values with `$(VAR)` expansion, the downward API, ConfigMap and Secret keys, the
 * `kubernetes` Service variables), volumes (emptyDir, configMap, secret, downwardAPI, and projected ones
 * including the bound service-account token every pod gets), and the mounts that place them.
 * Anything the agent cannot honour is an error naming the field, never silently dropped.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type {
  V1ConfigMap,
  V1Container,
  V1DownwardAPIVolumeFile,
  V1EnvVar,
  V1KeyToPath,
  V1ObjectFieldSelector,
  V1Pod,
  V1Secret,
  V1Volume,
  V1VolumeProjection,
} from '@kubernetes/client-node';
import { KUBERNETES_SERVICE_IP } from '../cluster/cluster-network.ts';

/** What the agent reads from the API server to build a pod; a fake stands in for it in unit tests. */
export interface PodInputs {
  readConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  readSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** A TokenRequest bound to the pod; returns the token and its expiry. */
  requestToken(
    pod: V1Pod,
    audience: string | undefined,
    expirationSeconds: number,
  ): Promise<{ token: string; expiresAt: Date }>;
}

/** An error that keeps the container from starting, reported as its waiting reason. */
export class PodConfigError extends Error {
  readonly reason: string;
  /**
   * A Secret, ConfigMap or key the pod refers to is missing: it may be created later, so the pod is
   * retried (a kubelet keeps syncing such a pod). False for what no later object can fix.
   */
  readonly missingInput: boolean;
  constructor(reason: string, message: string, options: { missingInput?: boolean } = {}) {
    super(message);
    this.name = 'PodConfigError';
    this.reason = reason;
    this.missingInput = options.missingInput ?? false;
  }
}

/** A Secret, ConfigMap or one of their keys is not there (yet). */
function missingInput(message: string): PodConfigError {
  return new PodConfigError('CreateContainerConfigError', message, { missingInput: true });
}

export interface PodAddresses {
  readonly podIP: string;
  readonly hostIP: string;
}

/** The variables a kubelet gives every container for the `kubernetes` Service. */
export function kubernetesServiceEnv(): Record<string, string> {
  const url = `tcp://${KUBERNETES_SERVICE_IP}:443`;
  return {
    KUBERNETES_SERVICE_HOST: KUBERNETES_SERVICE_IP,
    KUBERNETES_SERVICE_PORT: '443',
    KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: url,
    KUBERNETES_PORT_443_TCP: url,
    KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    KUBERNETES_PORT_443_TCP_PORT: '443',
    KUBERNETES_PORT_443_TCP_ADDR: KUBERNETES_SERVICE_IP,
  };
}

export async function resolveEnv(
  pod: V1Pod,
  container: V1Container,
  addresses: PodAddresses,
  inputs: PodInputs,
): Promise<Record<string, string>> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const env: Record<string, string> = { ...kubernetesServiceEnv() };
  for (const [i, source] of (container.envFrom ?? []).entries()) {
    const where = `containers[${container.name}].envFrom[${i}]`;
    const prefix = source.prefix ?? '';
    if (source.configMapRef) {
      const data = (await inputs.readConfigMap(namespace, source.configMapRef.name ?? ''))?.data;
      if (data === undefined && !source.configMapRef.optional) {
        throw missingInput(`${where}: configmap "${source.configMapRef.name}" not found`);
      }
      for (const [key, value] of Object.entries(data ?? {})) env[prefix + key] = value;
    } else if (source.secretRef) {
      const data = (await inputs.readSecret(namespace, source.secretRef.name ?? ''))?.data;
      if (data === undefined && !source.secretRef.optional) {
        throw missingInput(`${where}: secret "${source.secretRef.name}" not found`);
      }
      for (const [key, value] of Object.entries(data ?? {})) env[prefix + key] = decode(value);
    }
  }
  for (const variable of container.env ?? []) {
    const value = await envValue(pod, container, variable, env, addresses, inputs);
    if (value !== undefined) env[variable.name] = value;
  }
  return env;
}

async function envValue(
  pod: V1Pod,
  container: V1Container,
  variable: V1EnvVar,
  defined: Record<string, string>,
  addresses: PodAddresses,
  inputs: PodInputs,
): Promise<string | undefined> {
  const where = `containers[${container.name}].env[${variable.name}]`;
  const namespace = pod.metadata?.namespace ?? 'default';
  const from = variable.valueFrom;
  if (from === undefined) return expandVars(variable.value ?? '', defined);
  if (from.fieldRef) return fieldValue(pod, from.fieldRef, addresses, where);
  if (from.configMapKeyRef) {
    const ref = from.configMapKeyRef;
    const value = (await inputs.readConfigMap(namespace, ref.name ?? ''))?.data?.[ref.key];
    if (value === undefined && !ref.optional) {
      throw missingInput(`${where}: key "${ref.key}" of configmap "${ref.name}" not found`);
    }
    return value;
  }
  if (from.secretKeyRef) {
    const ref = from.secretKeyRef;
    const value = (await inputs.readSecret(namespace, ref.name ?? ''))?.data?.[ref.key];
    if (value === undefined && !ref.optional) {
      throw missingInput(`${where}: key "${ref.key}" of secret "${ref.name}" not found`);
    }
    return value === undefined ? undefined : decode(value);
  }
  if (from.resourceFieldRef) {
    const resource = from.resourceFieldRef.resource;
    const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
    const quantity = container.resources?.[kind]?.[name];
    // Without a limit a kubelet reports the node's allocatable; ours advertises 8 CPUs and 16 GiB.
    return quantity ?? (name === 'cpu' ? '8' : String(16 * 1024 ** 3));
  }
  throw new PodConfigError('CreateContainerConfigError', `${where}: unsupported valueFrom`);
}

/** The downward API's `fieldRef` paths. */
export function fieldValue(pod: V1Pod, ref: V1ObjectFieldSelector, addresses: PodAddresses, where: string): string {
  const path = ref.fieldPath;
  const meta = pod.metadata ?? {};
  const keyed = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (keyed) {
    const map = keyed[1] === 'labels' ? meta.labels : meta.annotations;
    return map?.[keyed[2] ?? ''] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
      return addresses.podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return addresses.hostIP;
    default:
      throw new PodConfigError('CreateContainerConfigError', `${where}: unsupported fieldPath "${path}"`);
  }
}

/** Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` escapes, anything else stays as written. */
export function expandVars(text: string, defined: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && name in defined ? (defined[name] ?? '') : match;
  });
}

export interface WrittenVolumes {
  /** Volume name → directory on this machine holding its files. */
  readonly paths: ReadonlyMap<string, string>;
  /** When the earliest service-account token should be renewed (80% of its life, as a kubelet does). */
  readonly renewAt?: Date;
}

const DEFAULT_TOKEN_SECONDS = 3607;

/** Writes every volume of the pod under `dir/<volume name>`; a second call refreshes them in place. */
export async function writeVolumes(
  pod: V1Pod,
  dir: string,
  addresses: PodAddresses,
  inputs: PodInputs,
): Promise<WrittenVolumes> {
  const paths = new Map<string, string>();
  let renewAt: Date | undefined;
  for (const volume of pod.spec?.volumes ?? []) {
    const target = join(dir, volume.name);
    mkdirSync(target, { recursive: true });
    const tokenRenewal = await writeVolume(pod, volume, target, addresses, inputs);
    if (tokenRenewal && (renewAt === undefined || tokenRenewal < renewAt)) renewAt = tokenRenewal;
    paths.set(volume.name, target);
  }
  return { paths, renewAt };
}

async function writeVolume(
  pod: V1Pod,
  volume: V1Volume,
  target: string,
  addresses: PodAddresses,
  inputs: PodInputs,
): Promise<Date | undefined> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const where = `volumes[${volume.name}]`;
  if (volume.emptyDir) return undefined;
  if (volume.configMap) {
    const configMap = await inputs.readConfigMap(namespace, volume.configMap.name ?? '');
    writeKeys(
      target,
      configMap?.data,
      volume.configMap.items,
      volume.configMap.optional,
      `${where}: configmap "${volume.configMap.name}"`,
    );
    return undefined;
  }
  if (volume.secret) {
    const name = volume.secret.secretName ?? '';
    const secret = await inputs.readSecret(namespace, name);
    writeKeys(
      target,
      decodeAll(secret?.data),
      volume.secret.items,
      volume.secret.optional,
      `${where}: secret "${name}"`,
    );
    return undefined;
  }
  if (volume.downwardAPI) {
    writeDownward(pod, target, volume.downwardAPI.items ?? [], addresses, where);
    return undefined;
  }
  if (volume.projected) {
    let renewAt: Date | undefined;
    for (const source of volume.projected.sources ?? []) {
      const renewal = await writeProjection(pod, source, target, addresses, inputs, where);
      if (renewal && (renewAt === undefined || renewal < renewAt)) renewAt = renewal;
    }
    return renewAt;
  }
  throw new PodConfigError(
    'CreateContainerConfigError',
    `${where}: only emptyDir, configMap, secret, downwardAPI and projected volumes are supported by the local node agent`,
  );
}

async function writeProjection(
  pod: V1Pod,
  source: V1VolumeProjection,
  target: string,
  addresses: PodAddresses,
  inputs: PodInputs,
  where: string,
): Promise<Date | undefined> {
  const namespace = pod.metadata?.namespace ?? 'default';
  if (source.serviceAccountToken) {
    const spec = source.serviceAccountToken;
    const seconds = spec.expirationSeconds ?? DEFAULT_TOKEN_SECONDS;
    const { token, expiresAt } = await inputs.requestToken(pod, spec.audience, seconds);
    writeFileAt(target, spec.path, token);
    const lifetimeMs = expiresAt.getTime() - Date.now();
    return new Date(Date.now() + lifetimeMs * 0.8);
  }
  if (source.configMap) {
    const name = source.configMap.name ?? '';
    const data = (await inputs.readConfigMap(namespace, name))?.data;
    writeKeys(target, data, source.configMap.items, source.configMap.optional, `${where}: configmap "${name}"`);
  } else if (source.secret) {
    const name = source.secret.name ?? '';
    const data = decodeAll((await inputs.readSecret(namespace, name))?.data);
    writeKeys(target, data, source.secret.items, source.secret.optional, `${where}: secret "${name}"`);
  } else if (source.downwardAPI) {
    writeDownward(pod, target, source.downwardAPI.items ?? [], addresses, where);
  }
  return undefined;
}

function writeKeys(
  target: string,
  data: Record<string, string> | undefined,
  items: readonly V1KeyToPath[] | undefined,
  optional: boolean | undefined,
  what: string,
): void {
  if (data === undefined) {
    if (optional) return;
    throw missingInput(`${what} not found`);
  }
  const chosen = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of chosen) {
    const value = data[item.key];
    if (value === undefined) throw missingInput(`${what} has no key "${item.key}"`);
    writeFileAt(target, item.path, value);
  }
}

function writeDownward(
  pod: V1Pod,
  target: string,
  items: readonly V1DownwardAPIVolumeFile[],
  addresses: PodAddresses,
  where: string,
): void {
  for (const item of items) {
    if (!item.fieldRef)
      throw new PodConfigError(
        'CreateContainerConfigError',
        `${where}: ${item.path}: only fieldRef items are supported`,
      );
    writeFileAt(target, item.path, fieldValue(pod, item.fieldRef, addresses, `${where}.${item.path}`));
  }
}

function writeFileAt(dir: string, relative: string, content: string): void {
  const path = normalize(join(dir, relative));
  if (!path.startsWith(`${dir}/`))
    throw new PodConfigError('CreateContainerConfigError', `path "${relative}" escapes its volume`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

function decode(base64: string): string {
  return Buffer.from(base64, 'base64').toString('utf8');
}

function decodeAll(data: Record<string, string> | undefined): Record<string, string> | undefined {
  if (data === undefined) return undefined;
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, decode(value)]));
}

export interface Mount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** Resolves `volumeMounts` against the written volumes; a mount of an unknown volume is an error. */
export function containerMounts(container: V1Container, volumes: ReadonlyMap<string, string>): Mount[] {
  return (container.volumeMounts ?? []).map((mount) => {
    const base = volumes.get(mount.name);
    if (base === undefined) {
      throw new PodConfigError(
        'CreateContainerConfigError',
        `containers[${container.name}].volumeMounts[${mount.name}]: no such volume`,
      );
    }
    return {
      source: mount.subPath ? join(base, mount.subPath) : base,
      target: mount.mountPath,
      readOnly: mount.readOnly ?? false,
    };
  });
}

/**
 * The shell run as a container's first process inside the pod's namespaces (`ip netns exec` already
 * gives it a private mount namespace; `unshare --uts` a private hostname). /run is replaced by a private
 * tmpfs, so mount points under /run or /var/run (where service-account tokens go) are made there;
 * a mount elsewhere must name an existing directory, because the agent never writes to the host's tree.
 * `resolvConf`, the pod's generated resolv.conf, is bind-mounted over /etc/resolv.conf — or over the file
 * it links to when that lives under /run (systemd-resolved, resolvconf), made in the private /run.
 */
export function containerScript(
  hostname: string,
  mounts: readonly Mount[],
  workingDir = '/',
  resolvConf?: string,
): string {
  const lines = ['set -e'];
  // Resolved before /run is replaced: a link into /run would dangle afterwards.
  if (resolvConf !== undefined) lines.push('resolv=$(readlink -f /etc/resolv.conf)');
  lines.push('mount -t tmpfs -o mode=0755,size=64m skewless-pod /run', `hostname ${quote(hostname)}`);
  if (resolvConf !== undefined) {
    lines.push(
      'case "$resolv" in /run/*) mkdir -p "$(dirname "$resolv")"; : >"$resolv" ;; esac',
      `mount --bind ${quote(resolvConf)} "$resolv"`,
    );
  }
  for (const mount of mounts) {
    const target = quote(mount.target);
    if (/^\/(var\/)?run\//.test(mount.target)) lines.push(`mkdir -p ${target}`);
    else {
      lines.push(
        `[ -d ${target} ] || { echo ${quote(`mountPath ${mount.target} does not exist on this machine; the local node agent mounts only under /var/run or over existing directories`)} >&2; exit 1; }`,
      );
    }
    lines.push(`mount --bind ${quote(mount.source)} ${target}`);
    if (mount.readOnly) lines.push(`mount -o remount,bind,ro ${target}`);
  }
  lines.push(`cd ${quote(workingDir)}`, 'exec "$@"');
  return lines.join('\n');
}

function quote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}
