/**
 * The node agent's pure parts: the image table, `$(VAR)` expansion, env and volumes from a pod spec
 * (against a fake of the API reads, named as such), the container script, the address pool and the
 * network plan. The agent against a real cluster is covered by e2e/test/local-cluster.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, type V1ConfigMap, type V1Container, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { planClusterNetwork } from '../src/cluster/cluster-network.ts';
import { imageRepository, resolveCommand } from '../src/node-agent/image-table.ts';
import { PodAddressPool } from '../src/node-agent/pod-network.ts';
import { worthRetrying } from '../src/node-agent/pod-runner.ts';
import {
  containerMounts,
  containerScript,
  expandVars,
  PodConfigError,
  type PodInputs,
  resolveEnv,
  writeVolumes,
} from '../src/node-agent/pod-spec.ts';

const addresses = { podIP: '10.244.1.7', hostIP: '172.31.0.11' };

function fakePodInputs(
  configMaps: Record<string, V1ConfigMap['data']>,
  secrets: Record<string, V1Secret['data']> = {},
): PodInputs & { tokens: number } {
  const inputs = {
    tokens: 0,
    readConfigMap: async (_ns: string, name: string) => (configMaps[name] ? { data: configMaps[name] } : undefined),
    readSecret: async (_ns: string, name: string) => (secrets[name] ? { data: secrets[name] } : undefined),
    requestToken: async (pod: V1Pod, audience: string | undefined, seconds: number) => {
      inputs.tokens += 1;
      return {
        token: `token-for-${pod.metadata?.name}-${audience ?? 'default'}-${seconds}`,
        expiresAt: new Date(Date.now() + seconds * 1000),
      };
    },
  };
  return inputs;
}

const pod = (containers: V1Container[], extra: Partial<V1Pod['spec']> = {}): V1Pod => ({
  metadata: {
    name: 'echo-abc',
    namespace: 'skewless',
    uid: 'uid-1',
    labels: { app: 'echo', 'topology.kubernetes.io/zone': 'zone-b' },
    annotations: { note: 'hi' },
  },
  spec: { nodeName: 'local-zone-b', serviceAccountName: 'default', containers, ...extra },
});

describe('image table', () => {
  it('maps image names to local commands, ignoring registry and tag, and follows command/args rules', () => {
    expect(imageRepository('ghcr.io/acme/skewless/backend:1.2@sha256:abc')).toBe('skewless/backend');
    expect(imageRepository('docker.io/envoyproxy/envoy:v1.36.4')).toBe('envoyproxy/envoy');
    expect(imageRepository('localhost:5000/skewless/load')).toBe('skewless/load');
    const defaults = resolveCommand('skewless/backend:dev');
    if (!defaults.ok) throw new Error(defaults.message);
    expect(defaults.argv[0]).toBe(process.execPath);
    expect(defaults.argv[1]).toMatch(/\/cli\/src\/main\.ts$/);
    expect(defaults.argv.slice(2)).toEqual(['backend']);
    const withArgs = resolveCommand('skewless/backend:dev', [], ['backend', '--grpc-port', '1']);
    expect(withArgs.ok && withArgs.argv.slice(-3)).toEqual(['backend', '--grpc-port', '1']);
    expect(resolveCommand('skewless/backend:dev', ['sleep'], ['5'])).toEqual({ ok: true, argv: ['sleep', '5'] });
    const unknown = resolveCommand('nginx:1.27');
    expect(unknown.ok).toBe(false);
    expect(!unknown.ok && unknown.message).toMatch(
      /"nginx:1.27" is not in the local node agent's image table \(known: skewless\/backend/,
    );
  });
});

describe('env', () => {
  it('expands $(VAR) from earlier variables, keeps unknown references and honours $$', () => {
    expect(expandVars('$(A)-$(B)-$$(A)-$(NOPE)', { A: 'x', B: 'y' })).toBe('x-y-$(A)-$(NOPE)');
  });

  it('resolves literal, downward-API, ConfigMap and Secret values, plus the kubernetes Service variables', async () => {
    const inputs = fakePodInputs(
      { cfg: { LEVEL: 'debug', OTHER: 'o' } },
      { sec: { TOKEN: Buffer.from('s3cret').toString('base64') } },
    );
    const container: V1Container = {
      name: 'main',
      envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CFG_' }],
      env: [
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'ZONE', valueFrom: { fieldRef: { fieldPath: "metadata.labels['topology.kubernetes.io/zone']" } } },
        { name: 'NOTE', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['note']" } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'LEVEL' } } },
        { name: 'SECRET', valueFrom: { secretKeyRef: { name: 'sec', key: 'TOKEN' } } },
        { name: 'URL', value: 'http://$(IP):80/$(POD)' },
      ],
    };
    const env = await resolveEnv(pod([container]), container, addresses, inputs);
    expect(env).toMatchObject({
      CFG_LEVEL: 'debug',
      CFG_OTHER: 'o',
      POD: 'echo-abc',
      NS: 'skewless',
      NODE: 'local-zone-b',
      ZONE: 'zone-b',
      NOTE: 'hi',
      IP: '10.244.1.7',
      HOST: '172.31.0.11',
      LEVEL: 'debug',
      SECRET: 's3cret',
      URL: 'http://10.244.1.7:80/echo-abc',
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
    });
  });

  it('refuses to start a container whose required key is missing, naming the variable and the key', async () => {
    const container: V1Container = {
      name: 'main',
      env: [{ name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'MISSING' } } }],
    };
    const failure = resolveEnv(pod([container]), container, addresses, fakePodInputs({ cfg: {} }));
    await expect(failure).rejects.toBeInstanceOf(PodConfigError);
    await expect(failure).rejects.toThrow('containers[main].env[LEVEL]: key "MISSING" of configmap "cfg" not found');
    const optional: V1Container = {
      name: 'main',
      env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k', optional: true } } }],
    };
    await expect(resolveEnv(pod([optional]), optional, addresses, fakePodInputs({}))).resolves.not.toHaveProperty('X');
    const unsupported: V1Container = {
      name: 'main',
      env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'status.phase' } } }],
    };
    await expect(resolveEnv(pod([unsupported]), unsupported, addresses, fakePodInputs({}))).rejects.toThrow(
      'unsupported fieldPath "status.phase"',
    );
  });
});

describe('volumes', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the projected service-account volume every pod gets, ConfigMaps, Secrets and emptyDirs', async () => {
    dir = mkdtempSync(join(tmpdir(), 'skewless-volumes-'));
    const inputs = fakePodInputs(
      { 'kube-root-ca.crt': { 'ca.crt': 'CA PEM' }, envoy: { 'envoy.yaml': 'admin: {}' } },
      { tls: { 'tls.crt': Buffer.from('CERT').toString('base64') } },
    );
    const spec = pod([{ name: 'main' }], {
      volumes: [
        {
          name: 'kube-api-access-x',
          projected: {
            sources: [
              { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
        { name: 'config', configMap: { name: 'envoy' } },
        { name: 'certs', secret: { secretName: 'tls' } },
        { name: 'scratch', emptyDir: {} },
      ],
    });
    const written = await writeVolumes(spec, dir, addresses, inputs);
    const sa = written.paths.get('kube-api-access-x') ?? '';
    expect(readFileSync(join(sa, 'token'), 'utf8')).toBe('token-for-echo-abc-default-3607');
    expect(readFileSync(join(sa, 'ca.crt'), 'utf8')).toBe('CA PEM');
    expect(readFileSync(join(sa, 'namespace'), 'utf8')).toBe('skewless');
    expect(readFileSync(join(written.paths.get('config') ?? '', 'envoy.yaml'), 'utf8')).toBe('admin: {}');
    expect(readFileSync(join(written.paths.get('certs') ?? '', 'tls.crt'), 'utf8')).toBe('CERT');
    // Renewed at 80% of the token's life, as a kubelet does.
    const renewInS = ((written.renewAt?.getTime() ?? 0) - Date.now()) / 1000;
    expect(renewInS).toBeGreaterThan(3607 * 0.8 - 5);
    expect(renewInS).toBeLessThanOrEqual(3607 * 0.8);

    const mounts = containerMounts(
      {
        name: 'main',
        volumeMounts: [
          { name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
        ],
      },
      written.paths,
    );
    expect(mounts).toEqual([{ source: sa, target: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }]);
    expect(() =>
      containerMounts({ name: 'main', volumeMounts: [{ name: 'nope', mountPath: '/x' }] }, written.paths),
    ).toThrow('containers[main].volumeMounts[nope]: no such volume');
  });

  it('rejects unsupported volume types and items escaping their volume', async () => {
    dir = mkdtempSync(join(tmpdir(), 'skewless-volumes-'));
    const hostPath = pod([{ name: 'main' }], { volumes: [{ name: 'host', hostPath: { path: '/etc' } }] });
    await expect(writeVolumes(hostPath, dir, addresses, fakePodInputs({}))).rejects.toThrow(
      'volumes[host]: only emptyDir',
    );
    const escaping = pod([{ name: 'main' }], {
      volumes: [{ name: 'c', configMap: { name: 'cfg', items: [{ key: 'k', path: '../../etc/x' }] } }],
    });
    await expect(writeVolumes(escaping, dir, addresses, fakePodInputs({ cfg: { k: 'v' } }))).rejects.toThrow(
      'escapes its volume',
    );
  });

  it('retries a set-up that failed on a missing input or an API error, not on a spec no retry can fix', async () => {
    dir = mkdtempSync(join(tmpdir(), 'skewless-volumes-'));
    const withConfigMap = pod([{ name: 'main' }], { volumes: [{ name: 'c', configMap: { name: 'cfg' } }] });
    // What the node authorizer answers until its graph has seen the pod bound to this node.
    const forbiddenFake = {
      ...fakePodInputs({}),
      readConfigMap: () =>
        Promise.reject(new ApiException(403, 'configmaps "cfg" is forbidden: no relationship found', {}, {})),
    };
    const failure = async (inputs: PodInputs, spec = withConfigMap) =>
      writeVolumes(spec, dir, addresses, inputs).then(
        () => expect.unreachable('set-up should have failed'),
        (error: unknown) => error,
      );
    const forbidden = await failure(forbiddenFake);
    expect(forbidden).toBeInstanceOf(ApiException);
    expect(worthRetrying(forbidden)).toBe(true);
    const missing = await failure(fakePodInputs({}));
    expect(missing).toBeInstanceOf(PodConfigError);
    expect(worthRetrying(missing)).toBe(true);
    const hostPath = pod([{ name: 'main' }], { volumes: [{ name: 'host', hostPath: { path: '/etc' } }] });
    const unsupported = await failure(fakePodInputs({}), hostPath);
    expect(unsupported).toBeInstanceOf(PodConfigError);
    expect(worthRetrying(unsupported)).toBe(false);
    expect(worthRetrying(new Error('RTNETLINK answers: File exists'))).toBe(true);
  });

  it('builds a container script that mounts under a private /run and never creates directories elsewhere', () => {
    const script = containerScript(
      "pod-'1",
      [
        { source: '/state/sa', target: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
        { source: '/state/cfg', target: '/etc/envoy', readOnly: false },
      ],
      '/srv',
    );
    expect(script).toContain('mount -t tmpfs -o mode=0755,size=64m skewless-pod /run');
    expect(script).toContain(`hostname 'pod-'\\''1'`);
    expect(script).toContain("mkdir -p '/var/run/secrets/kubernetes.io/serviceaccount'");
    expect(script).toContain("mount -o remount,bind,ro '/var/run/secrets/kubernetes.io/serviceaccount'");
    expect(script).not.toContain("mkdir -p '/etc/envoy'");
    expect(script).toContain("[ -d '/etc/envoy' ] ||");
    expect(script.trimEnd().split('\n').slice(-2)).toEqual(["cd '/srv'", 'exec "$@"']);
  });
});

describe('addresses', () => {
  it('hands out .2–.254 of the node range, going round it rather than reusing a just-freed address', () => {
    const pool = new PodAddressPool('10.244.3.0/24');
    const first = Array.from({ length: 253 }, () => pool.allocate());
    expect(first[0]).toBe('10.244.3.2');
    expect(first.at(-1)).toBe('10.244.3.254');
    expect(new Set(first).size).toBe(253);
    expect(() => pool.allocate()).toThrow('no free pod address left in 10.244.3.0/24');
    pool.release('10.244.3.77');
    expect(pool.allocate()).toBe('10.244.3.77');
    const fresh = new PodAddressPool('10.244.3.0/24');
    const a = fresh.allocate();
    fresh.release(a);
    expect(fresh.allocate()).toBe('10.244.3.3');
    expect(() => new PodAddressPool('10.244.3.0/16')).toThrow('must be a /24');
  });

  it('plans one namespace, underlay address and pod range per node, all under the run prefix', () => {
    const plan = planClusterNetwork('abc123', ['local-zone-a', 'local-zone-b']);
    expect(plan.underlayNetns).toBe('sk-abc123-net');
    expect(plan.nodes).toEqual([
      {
        name: 'local-zone-a',
        netns: 'sk-abc123-n1',
        ip: '172.31.0.11',
        podCidr: '10.244.1.0/24',
        gateway: '10.244.1.1',
      },
      {
        name: 'local-zone-b',
        netns: 'sk-abc123-n2',
        ip: '172.31.0.12',
        podCidr: '10.244.2.0/24',
        gateway: '10.244.2.1',
      },
    ]);
    expect(() => planClusterNetwork('abc123', [])).toThrow('1–200 nodes');
  });
});
