/**
 * manifests/overlays/local as kubectl renders it (kustomize), then as a real kube-apiserver judges it in a
 * server-side dry run: every object accepted, and a broken copy rejected with the field it breaks. The kind
 * and k3s overlays likewise (`make validate-manifests`): the same objects, our images never pulled, and
 * every object accepted by the API server.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  AppsV1Api,
  type KubernetesObject,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1ConfigMap,
  type V1Container,
  type V1Deployment,
  type V1Service,
} from '@kubernetes/client-node';
import { parseConfig } from '@skewless/control-plane';
import { createLogger } from '@skewless/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { type LocalApiServer, startLocalApiServer } from '../src/apiserver/local-apiserver.ts';
import { toolPath } from '../src/apiserver/tool-path.ts';

const logger = createLogger('manifests-test', process.env.SKEWLESS_LOG_LEVEL ?? 'warn');
const repoRoot = resolve(import.meta.dirname, '..', '..');
const OVERLAY = 'manifests/overlays/local';
const NAMESPACE = 'skewless';

interface KubectlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs .tools/bin/kubectl from the repo root; a missing kubectl rejects with how to install it. */
function kubectl(args: readonly string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(toolPath('kubectl'), args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

async function render(overlay = OVERLAY): Promise<KubernetesObject[]> {
  const result = await kubectl(['kustomize', overlay]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return parseAllDocuments(result.stdout).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJS() as KubernetesObject;
  });
}

const ref = (o: KubernetesObject) => `${o.kind}/${o.metadata?.name}`;

/** How `kubectl apply` names an object: `deployment.apps/echo`, `service/echo`. */
function kubectlName(o: KubernetesObject): string {
  const group = o.apiVersion?.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
  return `${o.kind?.toLowerCase()}${group}/${o.metadata?.name}`;
}

function find<T extends KubernetesObject>(objects: readonly KubernetesObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`${kind}/${name} is not rendered; rendered: ${objects.map(ref).join(', ')}`);
  return found as T;
}

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.entries(selector).every(([key, value]) => labels?.[key] === value);

function onlyContainer(deployment: V1Deployment): V1Container {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  expect(containers).toHaveLength(1);
  return containers[0]!;
}

const EXPECTED = [
  'Namespace/skewless',
  'ServiceAccount/skewless-control-plane',
  'ClusterRole/skewless-control-plane',
  'ClusterRoleBinding/skewless-control-plane',
  'ConfigMap/skewless-control-plane-config',
  'Deployment/skewless-control-plane',
  'Service/skewless-control-plane',
  'Deployment/echo',
  'Service/echo',
  'Service/echo-headless',
  'ConfigMap/envoy-ingress-bootstrap',
  'Deployment/envoy-ingress',
  'Service/envoy-ingress',
];
/** A version pinned in tools/versions.env, the one place external versions live. */
const pinned = (key: string) =>
  new RegExp(`^${key}=(\\S+)$`, 'm').exec(readFileSync(join(repoRoot, 'tools/versions.env'), 'utf8'))?.[1];
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

describe('manifests/overlays/local, rendered by kubectl kustomize', () => {
  let objects: KubernetesObject[];

  beforeAll(async () => {
    objects = await render();
  });

  it('renders exactly the control plane, its RBAC and config, the echo backend, its two baseline Services and the Envoy ingress', () => {
    expect(objects.map(ref).sort()).toEqual([...EXPECTED].sort());
  });

  it('puts every namespaced object in skewless and labels every object and pod part-of=skewless', () => {
    for (const o of objects) {
      expect(o.metadata?.namespace, ref(o)).toBe(CLUSTER_SCOPED.has(o.kind ?? '') ? undefined : NAMESPACE);
      expect(o.metadata?.labels?.['app.kubernetes.io/part-of'], ref(o)).toBe('skewless');
    }
    for (const d of objects.filter((o): o is V1Deployment => o.kind === 'Deployment')) {
      expect(d.spec?.template.metadata?.labels?.['app.kubernetes.io/part-of'], ref(d)).toBe('skewless');
    }
  });

  it('selects each Deployment by its own template labels, and each Service by exactly one Deployment', () => {
    const deployments = objects.filter((o): o is V1Deployment => o.kind === 'Deployment');
    for (const d of deployments) {
      const selector = d.spec?.selector.matchLabels ?? {};
      // The labels transformer must leave selectors alone: they are immutable on a live Deployment.
      expect(selector, ref(d)).toEqual({ app: d.metadata?.name });
      expect(matches(selector, d.spec?.template.metadata?.labels), ref(d)).toBe(true);
    }
    for (const s of objects.filter((o): o is V1Service => o.kind === 'Service')) {
      const selector = s.spec?.selector ?? {};
      expect(Object.keys(selector), ref(s)).not.toHaveLength(0);
      const targets = deployments.filter((d) => matches(selector, d.spec?.template.metadata?.labels));
      expect(targets.map(ref), ref(s)).toHaveLength(1);
      const portNames = onlyContainer(targets[0]!).ports?.map((p) => p.name);
      for (const port of s.spec?.ports ?? []) expect(portNames, `${ref(s)} ${port.name}`).toContain(port.targetPort);
    }
  });

  it('runs the two images under the names the local node agent maps to commands', () => {
    const images = objects
      .filter((o): o is V1Deployment => o.kind === 'Deployment')
      .map((d) => `${d.metadata?.name}=${onlyContainer(d).image}`)
      .sort();
    expect(images).toEqual([
      'echo=skewless/backend:dev',
      `envoy-ingress=envoyproxy/envoy:v${pinned('ENVOY_VERSION')}`,
      'skewless-control-plane=skewless/control-plane:dev',
    ]);
  });

  it('gives the control plane read-only access to what it watches, bound to its ServiceAccount', () => {
    const role = find<V1ClusterRole>(objects, 'ClusterRole', 'skewless-control-plane');
    const granted = (role.rules ?? []).flatMap((rule) =>
      (rule.resources ?? []).flatMap((resource) =>
        (rule.apiGroups ?? []).map((group) => `${group}/${resource}:${[...(rule.verbs ?? [])].sort().join(',')}`),
      ),
    );
    expect(granted.sort()).toEqual([
      '/nodes:get,list,watch',
      '/pods:get,list,watch',
      '/services:get,list,watch',
      'discovery.k8s.io/endpointslices:get,list,watch',
    ]);
    const binding = find<V1ClusterRoleBinding>(objects, 'ClusterRoleBinding', 'skewless-control-plane');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'skewless-control-plane',
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'skewless-control-plane', namespace: NAMESPACE },
    ]);
    const deployment = find<V1Deployment>(objects, 'Deployment', 'skewless-control-plane');
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe('skewless-control-plane');
  });

  it('configures the control plane through its SKEWLESS_* env and a config file, with probes on its HTTP port', () => {
    const deployment = find<V1Deployment>(objects, 'Deployment', 'skewless-control-plane');
    expect(deployment.spec?.replicas).toBe(1);
    expect(deployment.spec?.template.spec?.terminationGracePeriodSeconds).toBe(15);
    const container = onlyContainer(deployment);
    expect(container.command).toBeUndefined();
    expect(container.args).toEqual(['control-plane', '--config', '/var/run/skewless/config.json']);
    expect(container.volumeMounts).toEqual([{ name: 'config', mountPath: '/var/run/skewless', readOnly: true }]);
    expect(deployment.spec?.template.spec?.volumes).toEqual([
      { name: 'config', configMap: { name: 'skewless-control-plane-config' } },
    ]);
    expect(Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]))).toEqual({
      SKEWLESS_NAMESPACES: 'skewless',
      SKEWLESS_XDS_ADDRESS: '0.0.0.0:18000',
      SKEWLESS_HTTP_ADDRESS: '0.0.0.0:9901',
      NODE_OPTIONS: '--max-old-space-size=128',
    });
    expect(container.ports?.map((p) => `${p.name}:${p.containerPort}`)).toEqual(['xds:18000', 'http:9901']);
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.resources?.requests).toBeDefined();

    const service = find<V1Service>(objects, 'Service', 'skewless-control-plane');
    expect(service.spec?.type).toBe('ClusterIP');
    expect(service.spec?.ports?.map((p) => `${p.name}:${p.port}:${p.appProtocol}`)).toEqual([
      'grpc-xds:18000:grpc',
      'http-metrics:9901:http',
    ]);
  });

  it('runs 9 echo pods spread over zones, with downward-API identity, gRPC readiness and a drain window', () => {
    const deployment = find<V1Deployment>(objects, 'Deployment', 'echo');
    expect(deployment.spec?.replicas).toBe(9);
    expect(deployment.spec?.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    const pod = deployment.spec?.template.spec;
    expect(pod?.terminationGracePeriodSeconds).toBe(20);
    expect(pod?.topologySpreadConstraints?.map((c) => `${c.topologyKey}:${c.maxSkew}:${c.whenUnsatisfiable}`)).toEqual([
      'topology.kubernetes.io/zone:1:DoNotSchedule',
      'kubernetes.io/hostname:1:ScheduleAnyway',
    ]);
    for (const c of pod?.topologySpreadConstraints ?? []) {
      expect(matches(c.labelSelector?.matchLabels ?? {}, deployment.spec?.template.metadata?.labels)).toBe(true);
    }

    const container = onlyContainer(deployment);
    expect(container.args).toEqual(['backend', '--nice=-5']);
    const env = Object.fromEntries(
      (container.env ?? []).map((e) => [e.name, e.value ?? `fieldRef:${e.valueFrom?.fieldRef?.fieldPath}`]),
    );
    expect(env).toEqual({
      POD_NAME: 'fieldRef:metadata.name',
      POD_NAMESPACE: 'fieldRef:metadata.namespace',
      NODE_NAME: 'fieldRef:spec.nodeName',
      ZONE: "fieldRef:metadata.labels['topology.kubernetes.io/zone']",
      GRPC_PORT: '50051',
      HTTP_PORT: '9090',
      DRAIN_DELAY_MS: '3000',
      DRAIN_TIMEOUT_MS: '10000',
    });
    expect(container.ports?.map((p) => `${p.name}:${p.containerPort}`)).toEqual(['grpc:50051', 'http:9090']);
    expect(container.readinessProbe).toMatchObject({ grpc: { port: 50051 }, periodSeconds: 1, failureThreshold: 1 });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.lifecycle?.preStop).toEqual({ sleep: { seconds: 2 } });

    const grpcPort = { name: 'grpc', port: 50051, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' };
    const echo = find<V1Service>(objects, 'Service', 'echo');
    expect(echo.spec?.clusterIP).toBeUndefined();
    // http: the ingress's route to GET /whoami, HTTP/1.1 upstream (appProtocol http).
    expect(echo.spec?.ports).toEqual([
      grpcPort,
      { name: 'http', port: 9090, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
    ]);
    const headless = find<V1Service>(objects, 'Service', 'echo-headless');
    expect(headless.spec?.clusterIP).toBe('None');
    expect(headless.spec?.ports).toEqual([grpcPort]);
  });

  it("gives the control plane an ingress config that validates and names the echo ports and Envoy's TLS files", () => {
    const configMap = find<V1ConfigMap>(objects, 'ConfigMap', 'skewless-control-plane-config');
    const parsed = parseConfig(JSON.parse(configMap.data?.['config.json'] ?? ''));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const ingress = parsed.config.ingress;
    expect(ingress?.routes.map((r) => [r.service, r.match])).toEqual([
      ['skewless/echo:grpc', { grpcService: 'skewless.echo.v1.Echo' }],
      ['skewless/echo:http', { pathPrefix: '/whoami' }],
    ]);
    const echoPorts = find<V1Service>(objects, 'Service', 'echo').spec?.ports?.map((p) => `skewless/echo:${p.name}`);
    for (const route of ingress?.routes ?? []) expect(echoPorts).toContain(route.service);

    const envoy = onlyContainer(find<V1Deployment>(objects, 'Deployment', 'envoy-ingress'));
    const tlsMount = envoy.volumeMounts?.find((m) => m.name === 'tls')?.mountPath;
    expect(ingress?.tls).toEqual({ certFile: `${tlsMount}/tls.crt`, keyFile: `${tlsMount}/tls.key` });
    expect(ingress?.port).toBe(envoy.ports?.find((p) => p.name === 'https')?.containerPort);
  });

  it('runs one Envoy per zone from an ADS-only bootstrap: its zone and pod name from the downward API, TLS from a Secret', () => {
    const deployment = find<V1Deployment>(objects, 'Deployment', 'envoy-ingress');
    expect(deployment.spec?.replicas).toBe(3);
    const pod = deployment.spec?.template.spec;
    expect(pod?.topologySpreadConstraints?.map((c) => `${c.topologyKey}:${c.maxSkew}:${c.whenUnsatisfiable}`)).toEqual([
      'topology.kubernetes.io/zone:1:DoNotSchedule',
    ]);
    const container = onlyContainer(deployment);
    const args = container.args ?? [];
    const flag = (name: string) => args[args.indexOf(name) + 1];
    // The real image's entrypoint prepends `envoy` only when the first argument is a flag.
    expect(args[0]).toMatch(/^--/);
    expect(flag('--service-node')).toBe('$(POD_NAME)');
    expect(flag('--service-zone')).toBe('$(ZONE)');
    expect(args).toContain('--disable-hot-restart');
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    expect(env).toEqual({ POD_NAME: 'metadata.name', ZONE: "metadata.labels['topology.kubernetes.io/zone']" });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 'admin' });
    expect(container.ports?.map((p) => `${p.name}:${p.containerPort}`)).toEqual(['https:8443', 'admin:9901']);
    expect(pod?.volumes).toEqual([
      { name: 'bootstrap', configMap: { name: 'envoy-ingress-bootstrap' } },
      { name: 'tls', secret: { secretName: 'envoy-ingress-tls' } },
    ]);

    const configPath = flag('--config-path') ?? '';
    const bootstrapMount = container.volumeMounts?.find((m) => m.name === 'bootstrap')?.mountPath;
    expect(configPath.startsWith(`${bootstrapMount}/`)).toBe(true);
    const configMap = find<V1ConfigMap>(objects, 'ConfigMap', 'envoy-ingress-bootstrap');
    const bootstrap = parse(configMap.data?.[configPath.slice(`${bootstrapMount}/`.length)] ?? '');
    expect(bootstrap.node.metadata).toEqual({ 'skewless.zone_priority': true });
    expect(bootstrap.admin.address.socket_address.port_value).toBe(9901);
    expect(bootstrap.dynamic_resources.ads_config.api_type).toBe('GRPC');
    expect(bootstrap.dynamic_resources.lds_config).toEqual({ ads: {}, resource_api_version: 'V3' });
    expect(bootstrap.dynamic_resources.cds_config).toEqual({ ads: {}, resource_api_version: 'V3' });
    expect(bootstrap.static_resources.listeners).toBeUndefined();
    const [xds] = bootstrap.static_resources.clusters;
    const xdsAddress = xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
    const controlPlane = find<V1Service>(objects, 'Service', 'skewless-control-plane');
    expect(`${xdsAddress.address}:${xdsAddress.port_value}`).toBe(
      `skewless-control-plane.skewless.svc.cluster.local:${controlPlane.spec?.ports?.find((p) => p.name === 'grpc-xds')?.port}`,
    );

    const service = find<V1Service>(objects, 'Service', 'envoy-ingress');
    expect(service.spec?.trafficDistribution).toBe('PreferSameZone');
    expect(service.spec?.ports).toEqual([
      { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP', appProtocol: 'https' },
    ]);
  });
});

describe('manifests/overlays/{existing,kind,k3s}, rendered by kubectl kustomize', () => {
  let local: KubernetesObject[];

  beforeAll(async () => {
    local = await render();
  });

  it.each(['kind', 'k3s'])(
    '%s renders the objects of the local overlay, with our images never pulled',
    async (name) => {
      const objects = await render(`manifests/overlays/${name}`);
      expect(objects.map(ref).sort()).toEqual([...EXPECTED].sort());
      const policies = Object.fromEntries(
        objects
          .filter((o): o is V1Deployment => o.kind === 'Deployment')
          .map((d) => [d.metadata?.name, onlyContainer(d).imagePullPolicy ?? 'default']),
      );
      // Our images are imported into the nodes (kind load, ctr images import); Envoy's is pulled (base's policy).
      expect(policies).toEqual({ 'skewless-control-plane': 'Never', echo: 'Never', 'envoy-ingress': 'IfNotPresent' });
      const echo = find<V1Deployment>(objects, 'Deployment', 'echo');
      expect(echo.spec?.replicas).toBe(9);
      expect(onlyContainer(echo).image).toBe('skewless/backend:dev');
      expect(onlyContainer(find<V1Deployment>(objects, 'Deployment', 'skewless-control-plane')).image).toBe(
        'skewless/control-plane:dev',
      );
      // Apart from the pull policy, the same objects as the local overlay.
      const withoutPolicy = (objs: KubernetesObject[]) =>
        objs.map((o) => {
          const copy = structuredClone(o) as V1Deployment;
          for (const c of copy.kind === 'Deployment' ? (copy.spec?.template.spec?.containers ?? []) : []) {
            delete c.imagePullPolicy;
          }
          return copy;
        });
      expect(withoutPolicy(objects)).toEqual(withoutPolicy(local));
    },
  );
});

describe.each([OVERLAY, 'manifests/overlays/kind', 'manifests/overlays/k3s', 'manifests/overlays/existing'])(
  '%s against a real kube-apiserver (server-side dry run)',
  (overlay) => {
    let server: LocalApiServer;
    let scratch: string;
    let objects: KubernetesObject[];
    const serverArgs = () => [`--kubeconfig=${server.kubeconfigPath}`, `--cache-dir=${join(scratch, 'kube-cache')}`];

    beforeAll(async () => {
      scratch = mkdtempSync(join(tmpdir(), 'skewless-manifests-'));
      objects = await render(overlay);
      server = await startLocalApiServer({ logger });
      // A dry run creates nothing, so the namespaced objects need their Namespace to exist for real.
      const namespace = find<KubernetesObject>(objects, 'Namespace', NAMESPACE);
      const created = await kubectl(['apply', '--server-side', '-f', '-', ...serverArgs()], stringify(namespace));
      expect(created.stderr).toBe('');
      expect(created.stdout.trim()).toBe('namespace/skewless serverside-applied');
    });
    afterAll(async () => {
      await server?.stop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it('accepts every object of the overlay and persists none of them', async () => {
      const result = await kubectl(['apply', '--server-side', '--dry-run=server', '-k', overlay, ...serverArgs()]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const applied = result.stdout.trim().split('\n').sort();
      expect(applied).toEqual(objects.map((o) => `${kubectlName(o)} serverside-applied (server dry run)`).sort());

      const apps = server.kubeConfig.makeApiClient(AppsV1Api);
      expect((await apps.listNamespacedDeployment({ namespace: NAMESPACE })).items).toEqual([]);
    });

    it.each([
      {
        broken: 'a zero maxSkew',
        field: /spec\.template\.spec\.topologySpreadConstraints\[0\]\.maxSkew: Invalid value: 0/,
        breakIt: (d: V1Deployment) => {
          d.spec!.template.spec!.topologySpreadConstraints![0]!.maxSkew = 0;
        },
      },
      {
        broken: 'a misspelt probe field',
        field:
          /\.spec\.template\.spec\.containers\[name="echo"\]\.readinessProbe\.grpcPort: field not declared in schema/,
        breakIt: (d: V1Deployment) => {
          Object.assign(d.spec!.template.spec!.containers[0]!.readinessProbe!, { grpcPort: 50051 });
        },
      },
    ])('rejects an echo Deployment with $broken, naming the field', async ({ field, breakIt }) => {
      const deployment = structuredClone(find<V1Deployment>(objects, 'Deployment', 'echo'));
      breakIt(deployment);
      const dir = mkdtempSync(join(scratch, 'broken-'));
      writeFileSync(join(dir, 'echo-deployment.yaml'), stringify(deployment));
      const result = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', dir, ...serverArgs()]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(field);
      expect(result.stdout).toBe('');
    });
  },
);

describe('manifests without kubectl', () => {
  it('fails with a message that names `scripts/tools.sh kubectl`', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'skewless-no-tools-'));
    const saved = process.env.SKEWLESS_TOOLS_DIR;
    process.env.SKEWLESS_TOOLS_DIR = empty;
    try {
      await expect(kubectl(['kustomize', OVERLAY])).rejects.toThrow(
        /kubectl is not installed .*scripts\/tools\.sh kubectl/,
      );
    } finally {
      if (saved === undefined) delete process.env.SKEWLESS_TOOLS_DIR;
      else process.env.SKEWLESS_TOOLS_DIR = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
