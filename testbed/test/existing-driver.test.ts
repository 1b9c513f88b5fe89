/**
 * The `existing` driver against a real kube-apiserver (no nodes run there: Node objects labelled with
 * zones stand for them), through a kubeconfig file with an ordinary and a production-looking context.
 * Image pushing runs against a real Docker engine (the testbed's: startDockerEngine): to a registry address on
 * loopback where nothing listens (the failure path and the clean-up of the tags it made), and to a real OCI
 * registry on loopback (startLocalRegistry: CNCF distribution) with the backend image `make images` builds.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { createLogger } from '@skewless/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/apiserver/free-port.ts';
import { type LocalApiServer, startLocalApiServer } from '../src/apiserver/local-apiserver.ts';
import { existingClusterDriver } from '../src/cluster/existing/existing-driver.ts';
import { DEFAULT_PRODUCTION_PATTERN, productionGuard } from '../src/cluster/existing/existing-guard.ts';
import { kustomizeImages, registryImage } from '../src/cluster/existing/existing-images.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, OWNER_ANNOTATION } from '../src/cluster/existing/existing-namespaces.ts';
import type { ExistingClusterOptions } from '../src/cluster/existing/existing-options.ts';
import { type DockerEngine, startDockerEngine } from '../src/docker/docker-engine.ts';
import { type StartedLocalRegistry, startLocalRegistry } from '../src/registry/local-registry.ts';

const logger = createLogger('existing-driver-test', process.env.SKEWLESS_LOG_LEVEL ?? 'warn');
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const spec = { zones: [], region: 'region-1', keepOnFailure: false };
const repoRoot = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
/** What a registry may store for `docker push`, depending on the engine's image store. */
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

describe('production guard', () => {
  const id = (context: string, cluster = 'lab', server = 'https://10.0.0.1:6443') => ({ context, cluster, server });

  it.each([
    ['acme-prod-eu', 'lab', 'https://10.0.0.1:6443', 'context name "acme-prod-eu"'],
    ['team-a', 'production-eu', 'https://10.0.0.1:6443', 'cluster name "production-eu"'],
    ['team-a', 'lab', 'https://api.prd.example.com', 'server "https://api.prd.example.com"'],
    ['gke_acme_PROD', 'lab', 'https://10.0.0.1:6443', 'context name "gke_acme_PROD"'],
  ])(
    'refuses context %s / cluster %s / server %s, naming what matched and how to confirm',
    (context, cluster, server, why) => {
      const result = productionGuard(id(context, cluster, server), DEFAULT_PRODUCTION_PATTERN, undefined);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.message).toContain(`refusing to run against context "${context}"`);
      expect(result.message).toContain(why);
      expect(result.message).toContain(`--confirm-context ${context}`);
    },
  );

  it('lets an ordinary context through, and a production-looking one only with its exact name', () => {
    expect(productionGuard(id('kind-skewless'), DEFAULT_PRODUCTION_PATTERN, undefined)).toEqual({
      ok: true,
      looksLikeProduction: false,
    });
    expect(productionGuard(id('acme-prod-eu'), DEFAULT_PRODUCTION_PATTERN, 'acme-prod-eu')).toEqual({
      ok: true,
      looksLikeProduction: true,
    });
    const wrong = productionGuard(id('acme-prod-eu'), DEFAULT_PRODUCTION_PATTERN, 'acme-prod');
    expect(wrong.ok).toBe(false);
    expect(!wrong.ok && wrong.message).toMatch(/names context "acme-prod", but the context in use is "acme-prod-eu"/);
  });

  it('uses a configured pattern instead of the default', () => {
    expect(productionGuard(id('live-eu'), /live/i, undefined).ok).toBe(false);
    expect(productionGuard(id('acme-prod-eu'), /live/i, undefined).ok).toBe(true);
  });
});

describe('registry names for our images', () => {
  it('puts skewless images under the registry prefix, keeping or replacing the tag', () => {
    expect(registryImage('skewless/backend:dev', 'registry.example.com/team/')).toEqual({
      source: 'skewless/backend:dev',
      target: 'registry.example.com/team/skewless/backend:dev',
    });
    expect(registryImage('skewless/load:dev', 'localhost:5000', 'abc123').target).toBe(
      'localhost:5000/skewless/load:abc123',
    );
  });

  it('gives kustomize images entries that rename the repository whatever its tag', () => {
    const mappings = ['skewless/backend:dev', 'skewless/control-plane:dev'].map((i) =>
      registryImage(i, 'r.example/t', 'v1'),
    );
    expect(kustomizeImages(mappings)).toEqual([
      { name: 'skewless/backend', newName: 'r.example/t/skewless/backend', newTag: 'v1' },
      { name: 'skewless/control-plane', newName: 'r.example/t/skewless/control-plane', newTag: 'v1' },
    ]);
  });
});

describe('existing driver against a real kube-apiserver', () => {
  let server: LocalApiServer;
  let dir: string;
  let kubeconfig: string;
  let core: CoreV1Api;
  let rbac: RbacAuthorizationV1Api;

  const driver = (options: ExistingClusterOptions = {}) =>
    existingClusterDriver({
      kubeconfig,
      parentDir: dir,
      progress: false,
      namespaceGoneTimeoutMs: 300,
      logger,
      ...options,
    });

  const namespaces = async () =>
    new Map(
      (await core.listNamespace()).items.map((n) => [
        n.metadata?.name ?? '',
        n.metadata?.deletionTimestamp !== undefined,
      ]),
    );

  beforeAll(async () => {
    server = await startLocalApiServer({ logger });
    dir = mkdtempSync(join(tmpdir(), 'skewless-existing-test-'));
    core = server.kubeConfig.makeApiClient(CoreV1Api);
    rbac = server.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    const admin = server.kubeConfig;
    const cluster = admin.getCurrentCluster();
    const user = admin.getCurrentUser();
    if (!cluster || !user) throw new Error('the local API server has no admin kubeconfig');
    // Two contexts on the same API server; the current one is neither of those the tests pick by name.
    const file = new KubeConfig();
    file.loadFromOptions({
      clusters: [
        { ...cluster, name: 'lab' },
        { ...cluster, name: 'acme-eu' },
      ],
      users: [{ ...user, name: 'admin' }],
      contexts: [
        { name: 'skewless-test', cluster: 'lab', user: 'admin' },
        { name: 'acme-prod-eu', cluster: 'acme-eu', user: 'admin' },
      ],
      currentContext: 'skewless-test',
    });
    kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, file.exportConfig(), { mode: 0o600 });

    // Three usable zones, one whose only node is not Ready, and a node with no zone.
    const nodes: [string, string | undefined, boolean][] = [
      ['node-a1', 'zone-a', true],
      ['node-a2', 'zone-a', true],
      ['node-b1', 'zone-b', true],
      ['node-c1', 'zone-c', true],
      ['node-d1', 'zone-d', false],
      ['node-x', undefined, true],
    ];
    for (const [name, zone, ready] of nodes) {
      await core.createNode({
        body: { metadata: { name, labels: zone ? { 'topology.kubernetes.io/zone': zone } : {} } },
      });
      const now = new Date();
      await core.patchNodeStatus(
        {
          name,
          body: {
            status: {
              conditions: [
                {
                  type: 'Ready',
                  status: ready ? 'True' : 'False',
                  reason: ready ? 'KubeletReady' : 'KubeletNotReady',
                  message: 'set by the test',
                  lastHeartbeatTime: now,
                  lastTransitionTime: now,
                },
              ],
            },
          },
        },
        mergePatch,
      );
    }
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a production-looking context without confirmation, before any request, naming it and how to confirm', async () => {
    const before = await namespaces();
    const configure = () => driver({ context: 'acme-prod-eu', namespaces: ['skewless-p0'] }).configure(spec);
    expect(configure).toThrow(
      /refusing to run against context "acme-prod-eu" \(cluster "acme-eu", server https:\/\/127\.0\.0\.1:\d+\): its context name "acme-prod-eu" matches \/prod\|prd\/i.*--confirm-context acme-prod-eu/s,
    );
    expect(() =>
      driver({ context: 'acme-prod-eu', confirmContext: 'skewless-test', namespaces: ['skewless-p0'] }).configure(spec),
    ).toThrow(/names context "skewless-test", but the context in use is "acme-prod-eu"/);
    expect(await namespaces()).toEqual(before);
  });

  it('runs against a production-looking context confirmed by its exact name', async () => {
    const configured = driver({
      context: 'acme-prod-eu',
      confirmContext: 'acme-prod-eu',
      namespaces: ['skewless-p1'],
    }).configure(spec);
    expect(configured.looksLikeProduction).toBe(true);
    expect(configured.steps).toEqual([
      `reach ${server.url} (context acme-prod-eu)`,
      'zones from node labels',
      'namespaces: skewless-p1',
    ]);
    const cluster = await configured.start();
    try {
      expect(cluster.context).toBe('acme-prod-eu');
      expect((await namespaces()).get('skewless-p1')).toBe(false);
    } finally {
      await cluster.delete();
    }
  });

  it('lists the zones its nodes offer, counting only Ready nodes, and uses them all when the spec names none', async () => {
    const cluster = await driver({ namespaces: ['skewless-z1'] })
      .configure(spec)
      .start();
    try {
      expect(cluster.zones).toEqual(['zone-a', 'zone-b', 'zone-c']);
      expect(cluster.zoneSurvey).toEqual({
        zones: [
          { zone: 'zone-a', nodes: ['node-a1', 'node-a2'], usable: ['node-a1', 'node-a2'] },
          { zone: 'zone-b', nodes: ['node-b1'], usable: ['node-b1'] },
          { zone: 'zone-c', nodes: ['node-c1'], usable: ['node-c1'] },
          { zone: 'zone-d', nodes: ['node-d1'], usable: [] },
        ],
        unzoned: ['node-x'],
      });
    } finally {
      await cluster.delete();
    }
  });

  it('fails clearly, creating nothing, when the nodes offer fewer zones than the spec needs', async () => {
    const before = await namespaces();
    await expect(
      driver({ namespaces: ['skewless-z2'] })
        .configure({ ...spec, zones: ['zone-a', 'zone-d', 'zone-e'] })
        .start(),
    ).rejects.toThrow(
      'the spec needs zone(s) zone-d, zone-e, which no Ready, schedulable node labelled topology.kubernetes.io/zone offers ' +
        '(the cluster has zone-a: 2/2 nodes usable, zone-b: 1/1 nodes usable, zone-c: 1/1 nodes usable, zone-d: 0/1 nodes usable; 1 nodes without a zone label)',
    );
    await expect(
      driver({ namespaces: ['skewless-z2'], minZones: 4 })
        .configure(spec)
        .start(),
    ).rejects.toThrow(/3 usable zone\(s\), the scenarios need at least 4/);
    expect(await namespaces()).toEqual(before);
  });

  it('creates only its namespace, and deletes only that on delete() (safe to call twice)', async () => {
    await core.createNamespace({ body: { metadata: { name: 'team-a' } } });
    const before = await namespaces();
    const cluster = await driver({ namespaces: ['skewless-n1'] })
      .configure(spec)
      .start();
    const during = await namespaces();
    expect([...during.keys()].filter((n) => !before.has(n))).toEqual(['skewless-n1']);
    const created = await core.readNamespace({ name: 'skewless-n1' });
    expect(created.metadata?.labels?.[MANAGED_BY_LABEL]).toBe(MANAGED_BY_VALUE);
    expect(cluster.namespaces).toEqual([{ name: 'skewless-n1', uid: created.metadata?.uid, how: 'created' }]);

    await cluster.delete();
    await cluster.delete();
    const after = await namespaces();
    // This API server runs no namespace controller: a deleted namespace stays Terminating.
    expect(after.get('skewless-n1')).toBe(true);
    for (const [name, terminating] of after) {
      if (name !== 'skewless-n1') expect({ name, terminating }).toEqual({ name, terminating: before.get(name) });
    }
    expect(after.get('team-a')).toBe(false);
  });

  it('refuses to work in, or delete, a namespace it did not create', async () => {
    await core.createNamespace({ body: { metadata: { name: 'skewless-foreign' } } });
    await expect(
      driver({ namespaces: ['skewless-foreign'] })
        .configure(spec)
        .start(),
    ).rejects.toThrow(
      /namespace skewless-foreign already exists and was not created by the testbed .*refusing to work in it or delete it/,
    );
    const cluster = await driver({ namespaces: ['skewless-n2'] })
      .configure(spec)
      .start();
    try {
      await expect(cluster.deleteNamespace('skewless-foreign')).rejects.toThrow(
        'refusing to delete namespace skewless-foreign: this run did not create it (its own: skewless-n2)',
      );
      await expect(cluster.podLogs('skewless-foreign', 'p', 'c')).rejects.toThrow(/not one of the run's/);
    } finally {
      await cluster.delete();
    }
    expect((await namespaces()).get('skewless-foreign')).toBe(false);
  });

  it("takes over a namespace left by a dead earlier run on this machine, but not a live run's", async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid ?? 0;
    const leftover = (name: string, pid: number) =>
      core.createNamespace({
        body: {
          metadata: {
            name,
            labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
            annotations: { [OWNER_ANNOTATION]: `${hostname()}/${pid}` },
          },
        },
      });
    await leftover('skewless-left', deadPid);
    await leftover('skewless-busy', process.pid);
    await expect(
      driver({ namespaces: ['skewless-busy'] })
        .configure(spec)
        .start(),
    ).rejects.toThrow(`namespace skewless-busy is in use by a live testbed run (pid ${process.pid} on this machine)`);
    const cluster = await driver({ namespaces: ['skewless-left'] })
      .configure(spec)
      .start();
    expect(cluster.namespaces[0]?.how).toBe('adopted');
    await cluster.delete();
    const after = await namespaces();
    expect(after.get('skewless-left')).toBe(true);
    expect(after.get('skewless-busy')).toBe(false);
  });

  it('removes the cluster-scoped objects labelled part-of=skewless made during the run, and no others', async () => {
    const role = (name: string, labelled: boolean) =>
      rbac.createClusterRole({
        body: {
          metadata: { name, labels: labelled ? { 'app.kubernetes.io/part-of': 'skewless' } : {} },
          rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }],
        },
      });
    await role('skewless-installed-before', true);
    const cluster = await driver({ namespaces: ['skewless-r1'] })
      .configure(spec)
      .start();
    expect(cluster.preexistingClusterObjects.map((o) => o.name)).toEqual(['skewless-installed-before']);
    await role('skewless-control-plane', true);
    await role('someone-elses', false);
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'skewless-control-plane', labels: { 'app.kubernetes.io/part-of': 'skewless' } },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'skewless-control-plane' },
        subjects: [{ kind: 'ServiceAccount', name: 'skewless-control-plane', namespace: 'skewless-r1' }],
      },
    });
    await cluster.delete();
    const roles = (await rbac.listClusterRole()).items.map((r) => r.metadata?.name);
    expect(roles).toContain('skewless-installed-before');
    expect(roles).toContain('someone-elses');
    expect(roles).not.toContain('skewless-control-plane');
    const bindings = (await rbac.listClusterRoleBinding()).items.map((b) => b.metadata?.name);
    expect(bindings).not.toContain('skewless-control-plane');
  });

  it('writes a kubeconfig holding only the chosen context, so kubectl cannot pick another', async () => {
    const cluster = await driver({
      context: 'acme-prod-eu',
      confirmContext: 'acme-prod-eu',
      namespaces: ['skewless-k1'],
    })
      .configure(spec)
      .start();
    try {
      const written = new KubeConfig();
      written.loadFromFile(cluster.kubeconfigPath);
      expect(written.getContexts().map((c) => c.name)).toEqual(['acme-prod-eu']);
      expect(written.getCurrentContext()).toBe('acme-prod-eu');
      expect(readFileSync(cluster.kubeconfigPath, 'utf8')).not.toContain('skewless-test');
    } finally {
      await cluster.delete();
    }
  });

  it('asks for a registry before it would push our images, and leaves public images alone', async () => {
    const cluster = await driver({ namespaces: ['skewless-i1'] })
      .configure(spec)
      .start();
    try {
      await cluster.loadImages(['envoyproxy/envoy:v1.36.4', 'curlimages/curl:8.11.1']);
      expect(cluster.imageOverrides()).toEqual([]);
      await expect(cluster.loadImages(['skewless/backend:dev', 'envoyproxy/envoy:v1.36.4'])).rejects.toThrow(
        /skewless\/backend:dev must be pushed to a registry the cluster pulls from; set the registry prefix/,
      );
    } finally {
      await cluster.delete();
    }
  });

  describe('with a real Docker engine', () => {
    let engine: DockerEngine | undefined;
    let image: string;
    const savedHost = process.env.DOCKER_HOST;
    const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();

    beforeAll(async () => {
      engine = await startDockerEngine({ quiet: true });
      // The driver runs the Docker CLI, which finds the engine through DOCKER_HOST.
      process.env.DOCKER_HOST = engine.host;
      // An empty image under one of our names, made here (no registry to pull from).
      image = `skewless/backend:test-${Math.random().toString(16).slice(2, 8)}`;
      const empty = join(dir, 'empty.tar');
      writeFileSync(empty, Buffer.alloc(1024));
      docker('import', empty, image);
    });
    afterAll(async () => {
      if (image) spawnSync('docker', ['image', 'rm', image]);
      await engine?.stop();
      if (savedHost === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = savedHost;
    });

    it("tags our image for the registry, reports Docker's reason when the push fails, and removes the tag on delete()", async () => {
      const registry = `127.0.0.1:${await freePort()}/team`;
      const cluster = await driver({ namespaces: ['skewless-i2'], registry })
        .configure(spec)
        .start();
      const target = `${registry}/${image}`;
      try {
        await expect(cluster.loadImages([image])).rejects.toThrow(
          new RegExp(`docker push ${target.replace(/[.]/g, '\\.')} failed: .*connection refused`, 's'),
        );
        expect(docker('image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', `${registry}/skewless/backend`)).toBe(
          target,
        );
        // Not pushed, so the manifests keep the original name.
        expect(cluster.imageFor(image)).toBe(image);
        expect(cluster.imageOverrides()).toEqual([]);
      } finally {
        await cluster.delete();
      }
      expect(docker('image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', `${registry}/skewless/backend`)).toBe('');
      expect(docker('image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', 'skewless/backend')).toContain(image);
    });

    describe('and a real registry on loopback', () => {
      const backend = 'skewless/backend:dev';
      let registry: StartedLocalRegistry | undefined;
      const exists = (name: string) =>
        spawnSync('docker', ['image', 'inspect', name], { stdio: 'ignore' }).status === 0;
      const manifest = async (tag: string) => {
        const response = await fetch(`${registry?.url}/v2/team/skewless/backend/manifests/${tag}`, {
          headers: { accept: MANIFEST_TYPES.join(', ') },
        });
        return {
          status: response.status,
          type: response.headers.get('content-type'),
          digest: response.headers.get('docker-content-digest'),
          body: await response.text(),
        };
      };

      beforeAll(async () => {
        registry = await startLocalRegistry({ logger });
        if (exists(backend)) return;
        // As `make images` builds it; Docker's layer cache makes a later run quick.
        process.stderr.write(`[existing-driver.test] ${backend} missing: running scripts/images.sh backend\n`);
        await run(join(repoRoot, 'scripts/images.sh'), ['backend'], {
          cwd: repoRoot,
          env: { ...process.env, IMAGE_TAG: 'dev' },
          maxBuffer: 64 * 1024 * 1024,
        }).catch((error: { stderr?: string; message: string }) => {
          throw new Error(
            `scripts/images.sh backend failed:\n${(error.stderr ?? error.message).split('\n').slice(-40).join('\n')}`,
          );
        });
      }, 900_000);
      afterAll(async () => {
        await registry?.stop();
      });

      it('pushes our image to the registry, names exactly that image for the manifests, and delete() removes only its local tag', async () => {
        if (!registry) throw new Error('no registry (beforeAll failed)');
        const prefix = `${registry.address}/team`;
        const target = `${prefix}/skewless/backend:dev`;
        const cluster = await driver({ namespaces: ['skewless-i3'], registry: prefix })
          .configure(spec)
          .start();
        try {
          const began = performance.now();
          await cluster.loadImages([backend, 'envoyproxy/envoy:v1.36.4']);
          const seconds = ((performance.now() - began) / 1000).toFixed(1);
          expect(await registry.tags('team/skewless/backend')).toEqual(['dev']);
          const pushed = await manifest('dev');
          expect(pushed.status, pushed.body).toBe(200);
          expect(MANIFEST_TYPES).toContain(pushed.type);
          const bytes = Number(docker('image', 'inspect', '--format', '{{.Size}}', backend));
          process.stderr.write(
            `[existing-driver.test] pushed ${backend} (${Math.round(bytes / 1e6)} MB) to ${prefix} in ${seconds} s: ${pushed.type} ${pushed.digest}\n`,
          );
          // The registry serves it under the digest Docker recorded for the push: it holds our image, not some image.
          expect(docker('image', 'inspect', '--format', '{{join .RepoDigests " "}}', target).split(' ')).toContain(
            `${prefix}/skewless/backend@${pushed.digest}`,
          );
          expect(cluster.imageFor(backend)).toBe(target);
          expect(cluster.imageFor('envoyproxy/envoy:v1.36.4')).toBe('envoyproxy/envoy:v1.36.4');
          expect(cluster.imageOverrides()).toEqual([
            { name: 'skewless/backend', newName: `${prefix}/skewless/backend`, newTag: 'dev' },
          ]);
        } finally {
          await cluster.delete();
        }
        expect(exists(target)).toBe(false);
        expect(exists(backend)).toBe(true);
        expect(await registry.tags('team/skewless/backend')).toEqual(['dev']);
        expect((await manifest('dev')).status).toBe(200);
      }, 300_000);
    });
  });
});
