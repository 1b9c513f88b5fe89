/**
 * The generated kind config is accepted by kind's own config loader: the real kind binary (pinned,
 * scripts/tools.sh kind) reads it. kind's `create cluster` loads the file first (strict decode of
 * kind.x-k8s.io/v1alpha4, apiVersion and kind checked), then asks the Docker engine for its info and
 * existing nodes, then validates the config (roles, a control-plane node, networking, images), and only
 * then pulls the node image. So:
 *   - with no engine at all, a config that fails to load is rejected with kind's loader message, and ours
 *     gets past the loader to the engine step;
 *   - with an engine of the test's own (no registry: the node image points at a loopback registry that
 *     refuses at once), ours also passes kind's validation and stops at the image pull, while a config that
 *     loads but is invalid is rejected with kind's validation messages before anything is created.
 * No cluster is created and no traffic leaves loopback.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@skewless/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type CommandResult, kindCli } from '../src/cluster/kind/kind-cli.ts';
import { type KindConfigInput, kindConfigYaml } from '../src/cluster/kind/kind-config.ts';
import { pinnedVersion } from '../src/cluster/kind/kind-options.ts';
import { type PrivateDockerEngine, startPrivateDockerEngine } from './private-docker-engine.ts';

const logger = createLogger('kind-config-check-test', process.env.SKEWLESS_LOG_LEVEL ?? 'warn');
const NODE_IMAGE = pinnedVersion('KIND_NODE_IMAGE');
// Nothing listens on port 1 of loopback: a pull fails at once, and never leaves the machine.
const UNREACHABLE_IMAGE = `127.0.0.1:1/${NODE_IMAGE}`;
const NAME = 'skewless-check';
const OURS: KindConfigInput = {
  name: NAME,
  zones: ['zone-a', 'zone-b', 'zone-c'],
  region: 'region-1',
  workersPerZone: 1,
  nodeImage: NODE_IMAGE,
};

const dir = mkdtempSync(join(tmpdir(), 'skewless-kind-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** `kind create cluster` with a config file, as the driver runs it (its own kubeconfig file, never ~/.kube). */
async function kindCreate(dockerHost: string, config: string): Promise<CommandResult> {
  files += 1;
  const configPath = join(dir, `config-${files}.yaml`);
  writeFileSync(configPath, config);
  const cli = kindCli({ dockerHost });
  const kubeconfig = join(dir, `kubeconfig-${files}`);
  const args = ['create', 'cluster', '--name', NAME, '--config', configPath, '--kubeconfig', kubeconfig];
  return cli.kind([...args, '--image', UNREACHABLE_IMAGE], { timeoutMs: 120_000 });
}

/** Our config with one change made to the parsed YAML. */
function broken(change: (config: Record<string, unknown> & { nodes: Record<string, unknown>[] }) => void): string {
  const config = parse(kindConfigYaml(OURS));
  change(config);
  return stringify(config);
}

describe("kind's config loader, before any Docker engine is asked", () => {
  const noEngine = `unix://${join(dir, 'no-engine.sock')}`;

  it('rejects an apiVersion kind does not know, naming it', async () => {
    const result = await kindCreate(
      noEngine,
      broken((c) => {
        c.apiVersion = 'kind.x-k8s.io/v1alpha3';
      }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ERROR: failed to create cluster: unknown apiVersion: kind.x-k8s.io/v1alpha3');
  });

  it('rejects a field v1alpha4 does not have (strict decoding), naming the field and its type', async () => {
    const result = await kindCreate(
      noEngine,
      broken((c) => {
        const worker = c.nodes[1] as Record<string, unknown>;
        worker.zone = 'zone-a';
      }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ERROR: failed to create cluster: unable to decode config');
    expect(result.stderr).toContain('field zone not found in type v1alpha4.Node');
  });

  it('loads ours and goes on to ask the Docker engine, which is absent', async () => {
    const result = await kindCreate(noEngine, kindConfigYaml(OURS));
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('decode');
    expect(result.stderr).not.toContain('apiVersion');
    expect(result.stderr).toContain('ERROR: failed to create cluster: failed to get docker info');
  });
});

describe("kind's config validation, with a Docker engine that cannot pull", () => {
  let engine: PrivateDockerEngine;
  beforeAll(async () => {
    engine = await startPrivateDockerEngine(logger);
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it.concurrent.for([
    { zones: ['zone-a', 'zone-b', 'zone-c'], workersPerZone: 1 },
    { zones: ['east', 'west'], workersPerZone: 2 },
  ])(
    'validates ours ($zones.length zones × $workersPerZone) and stops at the node image pull',
    async (shape, { expect }) => {
      const result = await kindCreate(engine.host, kindConfigYaml({ ...OURS, ...shape }));
      expect(result.code).toBe(1);
      // Printed only after Config.Validate() passed (kind's pkg/cluster/internal/create).
      expect(result.stderr).toContain(`Creating cluster "${NAME}" ...`);
      expect(result.stderr).toContain(`Ensuring node image (127.0.0.1:1/${NODE_IMAGE.split('@')[0]})`);
      expect(result.stderr).toContain(`ERROR: failed to create cluster: failed to pull image "${UNREACHABLE_IMAGE}"`);
      expect(result.stderr).toContain('dial tcp 127.0.0.1:1: connect: connection refused');
    },
  );

  it('rejects a config that loads but is invalid, with every problem kind finds, before creating anything', async () => {
    const result = await kindCreate(
      engine.host,
      broken((c) => {
        for (const node of c.nodes) if (node.role === 'control-plane') node.role = 'master';
        (c.networking as Record<string, unknown>).kubeProxyMode = 'userspace';
      }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('Creating cluster');
    expect(result.stderr).toContain('invalid kubeProxyMode: userspace');
    expect(result.stderr).toContain('invalid configuration for node 0: "master" is not a valid node role');
    expect(result.stderr).toContain('must have at least one control-plane node');
  });

  it('leaves the engine as it found it: no kind cluster, no container', async () => {
    const cli = kindCli({ dockerHost: engine.host });
    expect(await cli.getClusters()).toEqual([]);
    const containers = await cli.docker(['ps', '--all', '--quiet']);
    expect(containers.code).toBe(0);
    expect(containers.stdout.trim()).toBe('');
  });
});
