/**
 * One pod on one node, from binding to deletion, the way a kubelet runs it: network, volumes, one
 * process group per container, probes, restarts with back-off, status, and graceful termination
 * (preStop, SIGTERM, the grace period, SIGKILL, then the final delete).
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container, V1ContainerStatus, V1Pod, V1PodCondition, V1PodStatus } from '@kubernetes/client-node';
import { Backoff, type Logger } from '@skewless/shared';
import { type ExitStatus, type ProcessGroup, startProcessGroup } from '../apiserver/process-group.ts';
import { resolveCommand } from './image-table.ts';
import { type ClusterDns, formatResolvConf, parseResolvConf, podResolvConf } from './pod-dns.ts';
import { createPodNetwork, deletePodNetwork, type PodNetworkPlan } from './pod-network.ts';
import {
  containerMounts,
  containerScript,
  expandVars,
  type PodAddresses,
  PodConfigError,
  type PodInputs,
  resolveEnv,
  writeVolumes,
} from './pod-spec.ts';
import { ProbeWorker } from './probes.ts';

export interface PodRunnerContext {
  readonly logger: Logger;
  readonly inputs: PodInputs;
  readonly hostIP: string;
  /** Where this pod's volumes go (`<dir>/volumes`). */
  readonly podDir: string;
  /** Container logs: `<logDir>/<namespace>_<pod>_<container>.log`. */
  readonly logDir: string;
  readonly network: PodNetworkPlan;
  /** The node's `--cluster-dns`/`--cluster-domain`, and its `--resolv-conf` (the machine's resolv.conf). */
  readonly dns: ClusterDns & { readonly hostResolvConf: string };
  /** Merge-patches the pod's status. */
  writeStatus(pod: V1Pod, status: V1PodStatus): Promise<void>;
  /** The kubelet's final delete (grace 0, uid precondition) once every container has stopped. */
  deletePod(pod: V1Pod): Promise<void>;
  /** Called once the runner has released everything (network included). */
  onGone(): void;
  readonly restartBackoff: { readonly baseMs: number; readonly maxMs: number };
}

/**
 * Where the kubelet API finds one container's log. Every attempt appends to the same file, so an attempt
 * is a byte range: the current one from `currentStart` to the end, the one before from `previousStart` to
 * `currentStart`. A pod that reuses an earlier pod's name starts past that pod's lines.
 */
export interface ContainerLog {
  readonly file: string;
  /** Unset until the container first starts (then `waitingReason` says why). */
  readonly currentStart: number | undefined;
  readonly previousStart: number | undefined;
  readonly running: boolean;
  readonly waitingReason: string | undefined;
}

type ContainerState =
  | { kind: 'waiting'; reason: string; message?: string }
  | { kind: 'running'; startedAt: Date }
  | { kind: 'terminated'; exitCode: number; signal?: string; reason: string; startedAt: Date; finishedAt: Date };

/** Ran at least this long: the crash-loop back-off starts over (a kubelet uses 10 min; our runs are short). */
const BACKOFF_RESET_MS = 60_000;
/** A kubelet gives containers at least this long after preStop before SIGKILL. */
const MIN_GRACE_AFTER_PRESTOP_MS = 2000;
/**
 * Whether a failed pod or container set-up is tried again, as a kubelet re-syncs a pod after any
 * failure: everything but a spec no retry can fix. A missing Secret or ConfigMap may be created later,
 * and an API error may pass — the node authorizer answers 403 for a pod's ConfigMap until its graph
 * has seen the pod bound to this node, which can be after the agent's own watch has.
 */
export function worthRetrying(error: unknown): boolean {
  return !(error instanceof PodConfigError) || error.missingInput;
}

/** The pace of those retries: after 1 s, doubling to every 10 s, until set-up succeeds or the pod is deleted. */
const setUpBackoff = () => new Backoff({ initialMs: 1000, maxMs: 10_000, multiplier: 2, jitter: 0 });

class ContainerRun {
  readonly spec: V1Container;
  state: ContainerState = { kind: 'waiting', reason: 'ContainerCreating' };
  lastState: ContainerState | undefined;
  restartCount = 0;
  ready = false;
  started = false;
  group: ProcessGroup | undefined;
  probes: ProbeWorker[] = [];
  restartTimer: NodeJS.Timeout | undefined;
  /** Paces starts retried because resolving its env failed (a missing Secret or ConfigMap, an API error). */
  readonly configRetry = setUpBackoff();
  /** Log offsets where the last two attempts began (see ContainerLog). */
  logStarts: number[] = [];

  constructor(spec: V1Container) {
    this.spec = spec;
  }

  namedPorts(): Map<string, number> {
    return new Map((this.spec.ports ?? []).filter((p) => p.name).map((p) => [p.name as string, p.containerPort]));
  }

  stopProbes(): void {
    for (const probe of this.probes) probe.stop();
    this.probes = [];
  }
}

export class PodRunner {
  private pod: V1Pod;
  private readonly ctx: PodRunnerContext;
  private readonly containers: ContainerRun[];
  private readonly log: Logger;
  private readonly startTime = new Date();
  private phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' = 'Pending';
  private networkReady = false;
  private terminating: Promise<void> | undefined;
  private stopped = false;
  private volumes: ReadonlyMap<string, string> = new Map();
  private tokenTimer: NodeJS.Timeout | undefined;
  private readonly setUpRetry = setUpBackoff();
  private setUpRetryTimer: NodeJS.Timeout | undefined;
  private statusWriting = false;
  private statusDirty = false;

  constructor(pod: V1Pod, ctx: PodRunnerContext) {
    this.pod = pod;
    this.ctx = ctx;
    this.containers = (pod.spec?.containers ?? []).map((spec) => new ContainerRun(spec));
    this.log = ctx.logger.child({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}` });
  }

  get namespace(): string {
    return this.pod.metadata?.namespace ?? '';
  }

  get name(): string {
    return this.pod.metadata?.name ?? '';
  }

  get containerNames(): string[] {
    return this.containers.map((c) => c.spec.name);
  }

  /** Undefined when the pod has no container of that name. */
  logOf(name: string): ContainerLog | undefined {
    const container = this.containers.find((c) => c.spec.name === name);
    if (!container) return undefined;
    const [previousStart, currentStart] =
      container.logStarts.length === 2 ? container.logStarts : [undefined, container.logStarts[0]];
    return {
      file: this.logFile(name),
      currentStart,
      previousStart,
      running: container.state.kind === 'running',
      waitingReason: container.state.kind === 'waiting' ? container.state.reason : undefined,
    };
  }

  private logFile(container: string): string {
    return join(this.ctx.logDir, `${this.namespace}_${this.name}_${container}.log`);
  }

  private get addresses(): PodAddresses {
    return { podIP: this.ctx.network.ip, hostIP: this.ctx.hostIP };
  }

  /** Sets up the pod and starts its containers; errors become container waiting reasons, not throws. */
  async start(): Promise<void> {
    const began = Date.now();
    if ((this.pod.spec?.initContainers ?? []).length > 0) {
      this.failAll('CreateContainerConfigError', 'init containers are not supported by the local node agent');
      return;
    }
    try {
      if (!this.networkReady) {
        await createPodNetwork(this.ctx.network);
        this.networkReady = true;
        this.writeResolvConf();
      }
      await this.refreshVolumes();
    } catch (error) {
      const reason = error instanceof PodConfigError ? error.reason : 'CreatePodSandboxError';
      this.failAll(reason, (error as Error).message);
      if (worthRetrying(error)) {
        clearTimeout(this.setUpRetryTimer);
        this.setUpRetryTimer = this.retryLater(this.setUpRetry, () => this.start());
      }
      return;
    }
    if (this.terminating || this.stopped) return;
    await Promise.all(this.containers.map((container) => this.startContainer(container)));
    this.log.info({ ip: this.ctx.network.ip, ms: Date.now() - began }, 'pod started');
  }

  /** The latest object from the API server; a deletion timestamp starts graceful termination. */
  update(pod: V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp && !this.terminating) {
      this.terminating = this.terminate();
    }
  }

  /** The pod is gone from the API server (force-deleted) or the agent stops: kill everything now. */
  async kill(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.setUpRetryTimer);
    for (const container of this.containers) {
      clearTimeout(container.restartTimer);
      container.stopProbes();
    }
    await Promise.all(this.containers.map((container) => container.group?.stop(0)));
    await this.release();
  }

  /** Runs `again` after the back-off's next delay, unless the pod goes away first. */
  private retryLater(backoff: Backoff, again: () => Promise<void>): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (this.terminating || this.stopped) return;
      again().catch((error: Error) => this.log.warn({ err: error.message }, 'retry failed'));
    }, backoff.nextDelayMs());
    timer.unref();
    return timer;
  }

  private failAll(reason: string, message: string): void {
    this.log.warn({ reason, message }, 'pod cannot start');
    for (const container of this.containers) container.state = { kind: 'waiting', reason, message };
    this.scheduleStatus();
  }

  /** `<podDir>/resolv.conf`, bind-mounted over /etc/resolv.conf in every container of the pod. */
  private get resolvConfPath(): string {
    return join(this.ctx.podDir, 'resolv.conf');
  }

  private writeResolvConf(): void {
    let hostText = '';
    try {
      hostText = readFileSync(this.ctx.dns.hostResolvConf, 'utf8');
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'no host resolv.conf; pods with dnsPolicy Default get none');
    }
    const conf = podResolvConf(this.pod, this.ctx.dns, parseResolvConf(hostText));
    writeFileSync(this.resolvConfPath, formatResolvConf(conf));
  }

  private async refreshVolumes(): Promise<void> {
    const written = await writeVolumes(this.pod, join(this.ctx.podDir, 'volumes'), this.addresses, this.ctx.inputs);
    this.volumes = written.paths;
    clearTimeout(this.tokenTimer);
    if (written.renewAt) {
      const delay = Math.max(1000, written.renewAt.getTime() - Date.now());
      this.tokenTimer = setTimeout(() => {
        this.refreshVolumes().catch((error: Error) => this.log.warn({ err: error.message }, 'token renewal failed'));
      }, delay);
      this.tokenTimer.unref();
    }
  }

  private async startContainer(container: ContainerRun): Promise<void> {
    if (this.terminating || this.stopped) return;
    const spec = container.spec;
    const name = spec.name;
    let argv: string[];
    let env: Record<string, string>;
    try {
      env = await resolveEnv(this.pod, spec, this.addresses, this.ctx.inputs);
      const resolved = resolveCommand(spec.image ?? '', spec.command, spec.args);
      if (!resolved.ok) throw new PodConfigError(resolved.reason, resolved.message);
      argv = resolved.argv.map((arg) => expandVars(arg, env));
    } catch (error) {
      const reason = error instanceof PodConfigError ? error.reason : 'CreateContainerError';
      container.state = { kind: 'waiting', reason, message: (error as Error).message };
      this.log.warn({ container: name, reason, message: (error as Error).message }, 'container cannot start');
      this.scheduleStatus();
      if (worthRetrying(error)) {
        container.restartTimer = this.retryLater(container.configRetry, () => this.startContainer(container));
      }
      return;
    }
    const mounts = containerMounts(spec, this.volumes);
    const script = containerScript(this.pod.metadata?.name ?? 'pod', mounts, spec.workingDir, this.resolvConfPath);
    const podName = this.pod.metadata?.name ?? 'pod';
    const logFile = this.logFile(name);
    container.logStarts = [...container.logStarts.slice(-1), fileSize(logFile)];
    const group = startProcessGroup({
      command: 'ip',
      args: ['netns', 'exec', this.ctx.network.podNetns, 'unshare', '--uts', '--', 'sh', '-c', script, 'sh', ...argv],
      logFile,
      // A container sees only what its spec gives it, plus what a runtime always sets.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/run', HOSTNAME: podName, ...env },
    });
    container.group = group;
    const startedAt = new Date();
    container.state = { kind: 'running', startedAt };
    container.started = spec.startupProbe === undefined;
    container.ready = false;
    this.log.info({ container: name, pid: group.pid, restartCount: container.restartCount }, 'container started');
    // Phase first: a probe-less container schedules a status write at once, which must not say Pending.
    this.updatePhase();
    this.startProbes(container);
    this.scheduleStatus();
    group.exited.then((status) => this.onContainerExit(container, group, startedAt, status));
  }

  private startProbes(container: ContainerRun): void {
    const spec = container.spec;
    const common = { podIP: this.ctx.network.ip, namedPorts: container.namedPorts() };
    const readiness = () => {
      if (!spec.readinessProbe) {
        container.ready = true;
        this.scheduleStatus();
        return;
      }
      this.addProbe(container, 'readiness', spec.readinessProbe, common, (healthy) => {
        container.ready = healthy;
        this.scheduleStatus();
      });
    };
    const liveness = () => {
      if (!spec.livenessProbe) return;
      this.addProbe(container, 'liveness', spec.livenessProbe, common, (healthy, message) => {
        if (!healthy) this.restartUnhealthy(container, `liveness probe failed: ${message}`);
      });
    };
    if (!spec.startupProbe) {
      readiness();
      liveness();
      return;
    }
    this.addProbe(container, 'startup', spec.startupProbe, common, (healthy, message) => {
      if (healthy && !container.started) {
        container.started = true;
        readiness();
        liveness();
        this.scheduleStatus();
      } else if (!healthy) this.restartUnhealthy(container, `startup probe failed: ${message}`);
    });
  }

  private addProbe(
    container: ContainerRun,
    kind: 'readiness' | 'liveness' | 'startup',
    probe: NonNullable<V1Container['readinessProbe']>,
    common: { podIP: string; namedPorts: Map<string, number> },
    onChange: (healthy: boolean, message: string) => void,
  ): void {
    const worker = new ProbeWorker({
      kind,
      probe,
      ...common,
      onResult: (result) => {
        if (kind !== 'readiness' || !result.healthy) {
          this.log.info(
            { container: container.spec.name, kind, healthy: result.healthy, message: result.message },
            'probe',
          );
        }
        onChange(result.healthy, result.message);
      },
    });
    container.probes.push(worker);
    worker.start();
  }

  private restartUnhealthy(container: ContainerRun, why: string): void {
    if (this.terminating || this.stopped || container.state.kind !== 'running') return;
    this.log.warn({ container: container.spec.name, why }, 'killing an unhealthy container');
    container.stopProbes();
    const grace = (this.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    void container.group?.stop(grace);
  }

  private onContainerExit(container: ContainerRun, group: ProcessGroup, startedAt: Date, status: ExitStatus): void {
    if (container.group !== group) return;
    container.group = undefined;
    container.stopProbes();
    container.ready = false;
    const exitCode = status.code ?? (status.signal ? 128 + signalNumber(status.signal) : 1);
    container.state = {
      kind: 'terminated',
      exitCode,
      ...(status.signal ? { signal: status.signal } : {}),
      reason: exitCode === 0 ? 'Completed' : 'Error',
      startedAt,
      finishedAt: new Date(),
    };
    this.log.info({ container: container.spec.name, exitCode, signal: status.signal }, 'container exited');
    if (!this.terminating && !this.stopped && this.shouldRestart(exitCode)) {
      const ranMs = Date.now() - startedAt.getTime();
      if (ranMs >= BACKOFF_RESET_MS) container.restartCount = 0;
      const { baseMs, maxMs } = this.ctx.restartBackoff;
      const delay = Math.min(maxMs, baseMs * 2 ** Math.min(container.restartCount, 20));
      container.lastState = container.state;
      container.state = {
        kind: 'waiting',
        reason: container.restartCount > 0 ? 'CrashLoopBackOff' : 'ContainerCreating',
      };
      container.restartTimer = setTimeout(() => {
        container.restartCount += 1;
        void this.startContainer(container);
      }, delay);
    }
    this.updatePhase();
    this.scheduleStatus();
  }

  private shouldRestart(exitCode: number): boolean {
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
  }

  private updatePhase(): void {
    const states = this.containers.map((c) => c.state);
    if (states.some((s) => s.kind === 'running')) {
      this.phase = 'Running';
      return;
    }
    const willRun = this.containers.some((c) => c.restartTimer !== undefined && c.state.kind === 'waiting');
    if (willRun || states.some((s) => s.kind === 'waiting')) return;
    this.phase = states.every((s) => s.kind === 'terminated' && s.exitCode === 0) ? 'Succeeded' : 'Failed';
  }

  /** preStop hooks, SIGTERM, the rest of the grace period, SIGKILL; then the final status and delete. */
  private async terminate(): Promise<void> {
    const grace = this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    const deadline = Date.now() + grace * 1000;
    this.log.info({ graceSeconds: grace }, 'terminating');
    clearTimeout(this.setUpRetryTimer);
    for (const container of this.containers) {
      clearTimeout(container.restartTimer);
      container.restartTimer = undefined;
    }
    const running = this.containers.filter((c) => c.group !== undefined);
    await Promise.all(running.map((container) => this.runPreStop(container, deadline)));
    const stopGrace = Math.max(MIN_GRACE_AFTER_PRESTOP_MS, deadline - Date.now());
    // Readiness probes keep running until each container exits, so `serving` follows the pod's own drain.
    await Promise.all(running.map((container) => container.group?.stop(stopGrace)));
    this.updatePhase();
    await this.flushStatus();
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.ctx.deletePod(this.pod);
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'final delete failed');
    }
    await this.release();
    this.log.info({ ms: grace * 1000 - (deadline - Date.now()) }, 'pod terminated');
  }

  private async runPreStop(container: ContainerRun, deadline: number): Promise<void> {
    const hook = container.spec.lifecycle?.preStop;
    if (!hook) return;
    const remaining = () => Math.max(0, deadline - Date.now());
    const began = Date.now();
    if (hook.sleep) {
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(hook.sleep?.seconds ?? 0, remaining() / 1000) * 1000),
      );
    } else if (hook.exec?.command?.length) {
      await runUntil(['ip', 'netns', 'exec', this.ctx.network.podNetns, ...hook.exec.command], remaining());
    } else if (hook.httpGet) {
      const port =
        typeof hook.httpGet.port === 'number'
          ? hook.httpGet.port
          : container.namedPorts().get(String(hook.httpGet.port));
      const url = `http://${hook.httpGet.host ?? this.ctx.network.ip}:${port}${hook.httpGet.path ?? '/'}`;
      await fetch(url, { signal: AbortSignal.timeout(Math.max(1, remaining())) }).catch(() => undefined);
    }
    this.log.info({ container: container.spec.name, ms: Date.now() - began }, 'preStop done');
  }

  private async release(): Promise<void> {
    clearTimeout(this.tokenTimer);
    if (this.networkReady) {
      this.networkReady = false;
      await deletePodNetwork(this.ctx.network).catch((error: Error) =>
        this.log.warn({ err: error.message }, 'network cleanup failed'),
      );
    }
    this.ctx.onGone();
  }

  private scheduleStatus(): void {
    this.statusDirty = true;
    if (!this.statusWriting) void this.flushStatus();
  }

  /** Writes the status until no change is pending; one write at a time, failures retried. */
  private async flushStatus(): Promise<void> {
    if (this.statusWriting) {
      this.statusDirty = true;
      while (this.statusWriting) await new Promise((resolve) => setTimeout(resolve, 20));
      if (!this.statusDirty) return;
    }
    this.statusWriting = true;
    try {
      for (let attempt = 0; this.statusDirty && attempt < 20; attempt += 1) {
        this.statusDirty = false;
        try {
          await this.ctx.writeStatus(this.pod, this.status());
        } catch (error) {
          this.statusDirty = true;
          this.log.warn({ err: (error as Error).message }, 'status write failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    } finally {
      this.statusWriting = false;
    }
  }

  status(): V1PodStatus {
    const now = new Date();
    const allReady = this.containers.length > 0 && this.containers.every((c) => c.ready);
    const condition = (type: string, ok: boolean, reason?: string): V1PodCondition => ({
      type,
      status: ok ? 'True' : 'False',
      lastTransitionTime: now,
      ...(reason && !ok ? { reason } : {}),
    });
    const scheduled = this.pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    const ip = this.networkReady ? this.ctx.network.ip : undefined;
    return {
      phase: this.phase,
      hostIP: this.ctx.hostIP,
      hostIPs: [{ ip: this.ctx.hostIP }],
      ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}),
      startTime: this.startTime,
      conditions: [
        condition('PodReadyToStartContainers', this.networkReady),
        condition('Initialized', true),
        condition('ContainersReady', allReady, 'ContainersNotReady'),
        condition('Ready', allReady, 'ContainersNotReady'),
        ...(scheduled ? [scheduled] : []),
      ],
      containerStatuses: this.containers.map((c) => this.containerStatus(c)),
    };
  }

  private containerStatus(container: ContainerRun): V1ContainerStatus {
    const image = container.spec.image ?? '';
    return {
      name: container.spec.name,
      image,
      imageID: `skewless-local://${image}`,
      ...(container.group ? { containerID: `skewless-local://${container.group.pid}` } : {}),
      ready: container.ready,
      started: container.started && container.state.kind === 'running',
      restartCount: container.restartCount,
      state: toApiState(container.state),
      ...(container.lastState ? { lastState: toApiState(container.lastState) } : {}),
    };
  }
}

function toApiState(state: ContainerState): V1ContainerStatus['state'] {
  switch (state.kind) {
    case 'waiting':
      return { waiting: { reason: state.reason, ...(state.message ? { message: state.message } : {}) } };
    case 'running':
      return { running: { startedAt: state.startedAt } };
    case 'terminated':
      return {
        terminated: {
          exitCode: state.exitCode,
          reason: state.reason,
          startedAt: state.startedAt,
          finishedAt: state.finishedAt,
          ...(state.signal ? { signal: signalNumber(state.signal) } : {}),
        },
      };
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function signalNumber(signal: string): number {
  return ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGABRT: 6, SIGSEGV: 11 } as Record<string, number>)[signal] ?? 1;
}

/** Runs a hook command, killing it if it outlives the grace period. */
function runUntil(argv: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const [command, ...args] = argv;
    const child = spawn(command ?? 'true', args, {
      stdio: 'ignore',
      timeout: Math.max(1, timeoutMs),
      killSignal: 'SIGKILL',
    });
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
}
