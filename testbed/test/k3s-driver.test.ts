/**
 * The k3s driver up to the point where the rancher/k3s image is needed (no registry here, so it is
 * never there): the plan, the clear failure at the image step, and — with a stand-in image made
 * locally — that everything created before a later failure is removed, or kept and swept when asked.
 * Runs on a real Docker engine: the testbed's (startDockerEngine: the machine's if one answers, else a
 * dockerd of its own).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createLogger } from '@skewless/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/apiserver/free-port.ts';
import { DEFAULT_ZONES } from '../src/cluster/driver.ts';
import {
  type Dockerode,
  dockerEngine,
  labelFilter,
  removeLabelled,
  sweepK3sClusters,
} from '../src/cluster/k3s/k3s-docker.ts';
import { k3sClusterDriver } from '../src/cluster/k3s/k3s-driver.ts';
import { importCommand, tarName } from '../src/cluster/k3s/k3s-images.ts';
import {
  DRIVER_LABEL_VALUE,
  LABEL_DRIVER,
  LABEL_OWNER_PID,
  LABEL_RUN,
  planK3sCluster,
  REGION_LABEL,
  ZONE_LABEL,
} from '../src/cluster/k3s/k3s-nodes.ts';
import { defaultK3sImage } from '../src/cluster/k3s/k3s-options.ts';
import { type DockerEngine, startDockerEngine } from '../src/docker/docker-engine.ts';

const logger = createLogger('k3s-driver-test', process.env.SKEWLESS_LOG_LEVEL ?? 'warn');
const spec = { zones: [...DEFAULT_ZONES], region: 'region-1', keepOnFailure: false };

describe('k3s cluster plan', () => {
  const plan = planK3sCluster({
    runId: 'ab12cd',
    zones: ['zone-a', 'zone-b', 'zone-c'],
    region: 'region-1',
    agentsPerZone: 1,
    token: 'secret-token',
    ownerPid: 4242,
  });

  it('plans one agent per zone, labelled with its zone and the region, joining the server by container name', () => {
    expect(plan.agents.map((a) => [a.name, a.zone, a.command])).toEqual(
      ['zone-a', 'zone-b', 'zone-c'].map((zone) => [
        `k3s-${zone}-1`,
        zone,
        [
          'agent',
          `--node-name=k3s-${zone}-1`,
          `--node-label=${ZONE_LABEL}=${zone}`,
          `--node-label=${REGION_LABEL}=region-1`,
          '--kube-proxy-arg=conntrack-max-per-core=0',
        ],
      ]),
    );
    for (const agent of plan.agents) {
      expect(agent.environment.K3S_URL).toBe('https://skewless-k3s-ab12cd-server:6443');
      expect(agent.containerName).toBe(`skewless-k3s-ab12cd-${agent.zone}-1`);
    }
  });

  it('plans agentsPerZone agents in every zone, with distinct node and container names', () => {
    const bigger = planK3sCluster({
      runId: 'ab12cd',
      zones: ['east', 'west'],
      region: 'r',
      agentsPerZone: 3,
      token: 't',
      ownerPid: 1,
    });
    expect(bigger.agents.map((a) => a.name)).toEqual([
      'k3s-east-1',
      'k3s-east-2',
      'k3s-east-3',
      'k3s-west-1',
      'k3s-west-2',
      'k3s-west-3',
    ]);
    expect(new Set(bigger.agents.map((a) => a.containerName)).size).toBe(6);
    expect(bigger.agents.filter((a) => a.command.includes(`--node-label=${ZONE_LABEL}=west`))).toHaveLength(3);
  });

  it('taints the server so workloads land on the zone-labelled agents, and names it in its certificate', () => {
    expect(plan.server.command[0]).toBe('server');
    expect(plan.server.command).toContain('--node-taint=CriticalAddonsOnly=true:NoExecute');
    expect(plan.server.command).toContain('--tls-san=skewless-k3s-ab12cd-server');
    expect(plan.server.command.some((arg) => arg.startsWith(`--node-label=${ZONE_LABEL}`))).toBe(false);
    expect(plan.server.command).toContain('--disable=traefik,servicelb,metrics-server,local-storage');
  });

  it('passes the join token by environment only, never on a command line', () => {
    for (const node of [plan.server, ...plan.agents]) {
      expect(node.environment.K3S_TOKEN).toBe('secret-token');
      expect(node.command.join(' ')).not.toContain('secret-token');
    }
  });

  it('labels every container with the driver, the run and the owner process', () => {
    for (const node of [plan.server, ...plan.agents]) {
      expect(node.dockerLabels).toMatchObject({
        [LABEL_DRIVER]: DRIVER_LABEL_VALUE,
        [LABEL_RUN]: 'ab12cd',
        [LABEL_OWNER_PID]: '4242',
      });
    }
  });

  it('imports images into the namespace the kubelet reads, through k3s containerd socket', () => {
    expect(importCommand('/var/lib/skewless-images/x.tar')).toEqual([
      'ctr',
      '--address',
      '/run/k3s/containerd/containerd.sock',
      '--namespace',
      'k8s.io',
      'images',
      'import',
      '/var/lib/skewless-images/x.tar',
    ]);
    expect(tarName('skewless/backend:dev')).toBe('skewless_backend_dev.tar');
  });
});

describe('k3s driver configure()', () => {
  it('plans its steps in order, the image pinned in tools/versions.env first of what is needed', () => {
    const configured = k3sClusterDriver({ progress: false }).configure({ ...spec, zones: [] });
    expect(defaultK3sImage()).toMatch(/^rancher\/k3s:v1\.35\.\d+-k3s\d+$/);
    expect(configured.kind).toBe('k3s');
    expect(configured.config.zones).toEqual([...DEFAULT_ZONES]);
    expect(configured.steps).toEqual([
      'clear leftovers',
      `image ${defaultK3sImage()}`,
      `network skewless-k3s-${configured.plan.runId}`,
      'k3s server',
      'agents (3): zone-a ×1, zone-b ×1, zone-c ×1',
      'nodes Ready',
    ]);
  });

  it('reports every bad option and zone with its path, at once', () => {
    const configure = () =>
      k3sClusterDriver({ agentsPerZone: 0, image: 'Not An Image', pull: 'sometimes' as 'never' }).configure({
        ...spec,
        zones: ['zone-a', 'Zone_B', 'zone-a'],
      });
    expect(configure).toThrow(/options\.image: not a Docker image reference/);
    expect(configure).toThrow(/options\.agentsPerZone: /);
    expect(configure).toThrow(/options\.pull: /);
    expect(configure).toThrow(/spec\.zones\[1\]: not a DNS label/);
    expect(configure).toThrow(/spec\.zones: zones must be distinct/);
  });
});

describe('k3s driver against a real Docker engine', () => {
  let engine: DockerEngine | undefined;
  let docker: Dockerode;
  let parentDir: string;
  const madeImages: string[] = [];
  const saved = { DOCKER_HOST: process.env.DOCKER_HOST, RYUK: process.env.TESTCONTAINERS_RYUK_DISABLED };

  beforeAll(async () => {
    engine = await startDockerEngine({ quiet: true });
    // testcontainers finds the engine through DOCKER_HOST; Ryuk's image cannot be pulled here, and the
    // driver removes what it makes by label itself.
    process.env.DOCKER_HOST = engine.host;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    docker = await dockerEngine();
    parentDir = mkdtempSync(join(tmpdir(), 'skewless-k3s-test-'));
  });
  afterAll(async () => {
    for (const image of madeImages) {
      await docker
        ?.getImage(image)
        .remove({ force: true })
        .catch(() => undefined);
    }
    if (parentDir) rmSync(parentDir, { recursive: true, force: true });
    await engine?.stop();
    for (const [key, value] of [
      ['DOCKER_HOST', saved.DOCKER_HOST],
      ['TESTCONTAINERS_RYUK_DISABLED', saved.RYUK],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  const leftovers = async (runId: string) => {
    const filters = labelFilter({ [LABEL_DRIVER]: DRIVER_LABEL_VALUE, [LABEL_RUN]: runId });
    const containers = await docker.listContainers({ all: true, filters });
    const networks = await docker.listNetworks({ filters });
    return { containers: containers.map((c) => c.Names[0]), networks: networks.map((n) => n.Name) };
  };

  /** An image with nothing in it: containers from it are created, then fail to start ("server": not found). */
  const standInImage = async () => {
    const image = `skewless-test/not-k3s:${Math.random().toString(16).slice(2, 8)}`;
    const [repo, tag] = image.split(':');
    const stream = await docker.importImage(Readable.from([Buffer.alloc(1024)]), { repo, tag });
    await new Promise((resolve, reject) =>
      docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve(undefined))),
    );
    madeImages.push(image);
    return image;
  };

  /**
   * Docker's create/destroy events for a run's containers (their events carry the labels) and its network
   * (network events carry only the name) while `body` runs.
   */
  const recordEvents = async (runId: string, body: () => Promise<unknown>) => {
    const events = await docker.getEvents({ filters: { type: ['container', 'network'] } });
    const seen: string[] = [];
    events.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const event = JSON.parse(line) as {
          Type: string;
          Action: string;
          Actor: { Attributes: Record<string, string> };
        };
        const attributes = event.Actor.Attributes;
        const ours = attributes[LABEL_RUN] === runId || attributes.name === `skewless-k3s-${runId}`;
        if (ours && ['create', 'destroy'].includes(event.Action)) seen.push(`${event.Type} ${event.Action}`);
      }
    });
    try {
      await body();
    } finally {
      // Events arrive asynchronously: give the last ones a moment.
      await new Promise((r) => setTimeout(r, 500));
      (events as unknown as { destroy(): void }).destroy();
    }
    return seen;
  };

  it('fails at the image step with "image rancher/k3s:<tag> not available: <reason from Docker>", creating nothing', async () => {
    const configured = k3sClusterDriver({ pull: 'never', parentDir, progress: false, logger }).configure(spec);
    const image = defaultK3sImage();
    const seen = await recordEvents(configured.plan.runId, async () => {
      const failure = await configured.start().then(
        () => new Error('start() succeeded'),
        (error: Error) => error,
      );
      expect(failure.message).toMatch(
        new RegExp(
          `^image ${image.replace(/[.]/g, '\\.')} not available: .*No such image: ${image.replace(/[.]/g, '\\.')}`,
          'i',
        ),
      );
    });
    expect(seen).toEqual([]);
    expect(await leftovers(configured.plan.runId)).toEqual({ containers: [], networks: [] });
    expect(readdirSync(parentDir)).toEqual([]);
  });

  it("reports Docker's own reason when the pull itself fails", async () => {
    // A registry address on loopback where nothing listens: a real pull attempt, refused at once.
    const image = `127.0.0.1:${await freePort()}/rancher/k3s:v1.35.4-k3s1`;
    const configured = k3sClusterDriver({ image, parentDir, progress: false, logger }).configure(spec);
    await expect(configured.start()).rejects.toThrow(
      new RegExp(`^image ${image.replace(/[.]/g, '\\.')} not available: .*connection refused`),
    );
    expect(await leftovers(configured.plan.runId)).toEqual({ containers: [], networks: [] });
  });

  it('removes the network and containers it created when a later step fails', async () => {
    const image = await standInImage();
    const configured = k3sClusterDriver({ image, parentDir, progress: false, logger }).configure(spec);
    const seen = await recordEvents(configured.plan.runId, async () => {
      await expect(configured.start()).rejects.toThrow(
        // Docker's reason: "server" is not in the empty image (or, where privileged containers are not
        // allowed, its capabilities cannot be applied) — the same OCI runtime failure either way.
        /^k3s server k3s-server did not start: .*OCI runtime create failed/s,
      );
    });
    // Proof that the failure came after something was created, and that it was all removed.
    expect(seen).toContain('network create');
    expect(seen).toContain('container create');
    expect(seen).toContain('container destroy');
    expect(seen).toContain('network destroy');
    expect(await leftovers(configured.plan.runId)).toEqual({ containers: [], networks: [] });
    expect(readdirSync(parentDir)).toEqual([]);
  });

  it('keeps what it created after a failure when asked, and the sweep removes it once its owner is gone', async () => {
    const image = await standInImage();
    const configured = k3sClusterDriver({ image, parentDir, progress: false, logger }).configure({
      ...spec,
      keepOnFailure: true,
    });
    const runId = configured.plan.runId;
    await expect(configured.start()).rejects.toThrow(/did not start/);
    const kept = await leftovers(runId);
    expect(kept.networks).toEqual([`skewless-k3s-${runId}`]);
    expect(kept.containers).toEqual([`/skewless-k3s-${runId}-server`]);
    expect(readdirSync(parentDir)).toEqual([`k3s-${runId}`]);
    // A kept cluster survives the ordinary sweep at the next start …
    expect(await sweepK3sClusters(docker, parentDir, logger, { includeKept: false })).toEqual([]);
    expect((await leftovers(runId)).networks).toHaveLength(1);
    // … and goes with `cluster-down`'s.
    expect(await sweepK3sClusters(docker, parentDir, logger, { includeKept: true })).toEqual([runId]);
    expect(await leftovers(runId)).toEqual({ containers: [], networks: [] });
    expect(readdirSync(parentDir)).toEqual([]);
  });

  it("clears a dead run's containers and network at the next start, and leaves a live run's alone", async () => {
    const image = await standInImage();
    const exited = spawnSync(process.execPath, ['-e', '']);
    const deadPid = exited.pid ?? 0;
    const make = async (runId: string, ownerPid: number) => {
      const labels = { [LABEL_DRIVER]: DRIVER_LABEL_VALUE, [LABEL_RUN]: runId, [LABEL_OWNER_PID]: String(ownerPid) };
      await docker.createNetwork({ Name: `skewless-k3s-${runId}`, Labels: labels });
      await docker.createContainer({
        Image: image,
        name: `skewless-k3s-${runId}-server`,
        Cmd: ['server'],
        Labels: labels,
      });
    };
    await make('dead01', deadPid);
    await make('live01', process.pid);
    try {
      const configured = k3sClusterDriver({ pull: 'never', parentDir, progress: false, logger }).configure(spec);
      await expect(configured.start()).rejects.toThrow(/not available/);
      expect(await leftovers('dead01')).toEqual({ containers: [], networks: [] });
      expect(await leftovers('live01')).toEqual({
        containers: ['/skewless-k3s-live01-server'],
        networks: ['skewless-k3s-live01'],
      });
    } finally {
      // live01 stands for another process's cluster: no sweep touches it, so the test removes it itself.
      for (const runId of ['dead01', 'live01']) {
        await removeLabelled(docker, { [LABEL_DRIVER]: DRIVER_LABEL_VALUE, [LABEL_RUN]: runId });
      }
    }
  });
});
