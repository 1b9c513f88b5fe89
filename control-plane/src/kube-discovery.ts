/**
 * Watches Services, EndpointSlices, Nodes (zone fallback) and Pods (our annotations, and the node a
 * calling client's Pod runs on) and publishes
 * every Service port's endpoints to an EndpointSink.
 *
 * The rule everything here serves: the sink only ever sees a complete view. Nothing is published
 * before every informer has listed once, and nothing while any informer is relisting (after a 410,
 * an API-server restart, a watch error), so a relist's delete-then-add diffs or a cache mid-recovery
 * can never reach clients as an empty or partial endpoint set. While the API server is unreachable
 * the last published view simply stays in place.
 */
import {
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { type BackoffOptions, type Logger, POD_ANNOTATION } from '@skewless/shared';
import { KubeIndex } from './kube-index.ts';
import { type InformerEvent, ResilientInformer } from './kube-informer.ts';
import type { EndpointSink } from './model.ts';
import { type TranslateProblem, ZONE_LABEL } from './translate-slices.ts';

export interface KubeDiscoveryOptions {
  readonly kubeConfig: KubeConfig;
  /** Watch only these namespaces (one set of informers each); default: all namespaces. */
  readonly namespaces?: readonly string[];
  readonly sink: EndpointSink;
  readonly logger: Logger;
  /** Restart backoff after a watch error; default 500 ms growing to 30 s. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /**
   * Only Pods matching this selector are watched for annotations (default: all Pods). Pods are kept
   * as name + our annotations + nodeName only, so watching all of them is cheap; the selector saves
   * the traffic, but a client Pod outside it cannot have its zone resolved (`zoneOfPod`).
   */
  readonly podLabelSelector?: string;
  readonly now?: () => number;
  readonly random?: () => number;
  /**
   * Called (coalesced, never synchronously) when a Pod's node or a Node's zone changed, so the xDS
   * server can resolve again the zones of clients that were unknown (see `zoneOfPod`).
   */
  readonly onPodZonesChanged?: () => void;
}

export class KubeDiscovery {
  private readonly options: KubeDiscoveryOptions;
  private readonly logger: Logger;
  private readonly index = new KubeIndex();
  private readonly informers: ResilientInformer<KubernetesObject>[] = [];
  private problems: readonly TranslateProblem[] = [];
  private loggedProblems = new Set<string>();
  private published = false;
  private publishScheduled = false;
  private podZonesChanged = false;
  /** One-shot: started once, stopped once. */
  private state: 'new' | 'running' | 'stopped' = 'new';
  private firstPublish: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(options: KubeDiscoveryOptions) {
    this.options = options;
    this.logger = options.logger;
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    const discovery = options.kubeConfig.makeApiClient(DiscoveryV1Api);
    const pods = options.podLabelSelector;

    this.add(
      'nodes',
      '/api/v1/nodes',
      () => core.listNode(),
      projectNode,
      (e, o) => {
        if (this.index.node(e, o)) this.podZonesChanged = true;
      },
    );
    for (const namespace of options.namespaces ?? [undefined]) {
      const where = namespace === undefined ? 'all namespaces' : namespace;
      const ns = namespace === undefined ? '' : `/namespaces/${namespace}`;
      this.add(
        `services in ${where}`,
        `/api/v1${ns}/services`,
        () => (namespace ? core.listNamespacedService({ namespace }) : core.listServiceForAllNamespaces()),
        undefined,
        (e, o) => this.index.service(e, o),
      );
      this.add(
        `endpointslices in ${where}`,
        `/apis/discovery.k8s.io/v1${ns}/endpointslices`,
        () =>
          namespace
            ? discovery.listNamespacedEndpointSlice({ namespace })
            : discovery.listEndpointSliceForAllNamespaces(),
        undefined,
        (e, o) => this.index.slice(e, o),
      );
      this.add(
        `pods in ${where}`,
        `/api/v1${ns}/pods`,
        () =>
          namespace
            ? core.listNamespacedPod({ namespace, labelSelector: pods })
            : core.listPodForAllNamespaces({ labelSelector: pods }),
        projectPod,
        (e, o) => {
          if (this.index.pod(e, o)) this.podZonesChanged = true;
        },
        pods,
      );
    }
  }

  /** Starts watching; resolves once the first complete state has been published (rejects if stopped first). */
  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new Error(`KubeDiscovery cannot start: it is ${this.state}`));
    this.state = 'running';
    const first = new Promise<void>((resolve, reject) => {
      this.firstPublish = { resolve, reject };
    });
    for (const informer of this.informers) informer.start();
    return first;
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    await Promise.all(this.informers.map((informer) => informer.stop()));
    this.firstPublish?.reject(new Error('KubeDiscovery stopped before its first complete state'));
    this.firstPublish = undefined;
  }

  /** True while every informer holds a completely applied list (publication is allowed). */
  isSynced(): boolean {
    return this.informers.every((informer) => informer.isSynced());
  }

  /** Problems found in the last published state (malformed slices, bad annotations). */
  lastProblems(): readonly TranslateProblem[] {
    return this.problems;
  }

  /**
   * The zone of the Node that Pod `namespace/name` runs on (`spec.nodeName` → the Node's
   * `topology.kubernetes.io/zone`), or undefined while the Pod is unknown, unscheduled, outside
   * `podLabelSelector`, or its Node has no zone label. Reads the informers' current state, so
   * an answer can exist before the first complete publication.
   */
  zoneOfPod(namespace: string, name: string): string | undefined {
    return this.index.zoneOfPod(namespace, name);
  }

  /** Watch errors seen so far over all informers (each one followed by a restart). */
  watchErrors(): number {
    return this.informers.reduce((sum, informer) => sum + informer.errors(), 0);
  }

  private add<T extends KubernetesObject>(
    name: string,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    project: ((object: T) => T) | undefined,
    apply: (event: InformerEvent, object: T) => void,
    labelSelector?: string,
  ): void {
    const backoff: BackoffOptions = {
      initialMs: this.options.backoff?.initialMs ?? 500,
      maxMs: this.options.backoff?.maxMs ?? 30_000,
      ...(this.options.random ? { random: this.options.random } : {}),
    };
    const informer = new ResilientInformer<T>({
      name,
      kubeConfig: this.options.kubeConfig,
      path,
      list,
      ...(labelSelector !== undefined ? { labelSelector } : {}),
      ...(project ? { project } : {}),
      backoff,
      now: this.options.now ?? Date.now,
      logger: this.logger,
      onEvent: (event, object) => {
        apply(event, object);
        this.schedulePublish();
      },
      onSyncChange: () => this.schedulePublish(),
    });
    this.informers.push(informer as unknown as ResilientInformer<KubernetesObject>);
  }

  /** Coalesces a burst of events (a list applies thousands in one tick) into one publication. */
  private schedulePublish(): void {
    if (this.publishScheduled) return;
    this.publishScheduled = true;
    setImmediate(() => {
      this.publishScheduled = false;
      this.publish();
      if (this.podZonesChanged && this.state === 'running') {
        this.podZonesChanged = false;
        try {
          this.options.onPodZonesChanged?.();
        } catch (error) {
          this.logger.error({ err: error }, 'onPodZonesChanged threw');
        }
      }
    });
  }

  private publish(): void {
    if (this.state !== 'running' || !this.isSynced()) return;
    if (this.published && !this.index.hasChanges()) return;
    const { services, problems } = this.index.translate();
    this.problems = problems;
    this.logNewProblems(problems);
    this.options.sink.replaceAll(services);
    this.logger.debug({ services: services.length }, 'published');
    if (!this.published) {
      this.published = true;
      this.logger.info({ services: services.length }, 'first complete state published');
      this.firstPublish?.resolve();
      this.firstPublish = undefined;
    }
  }

  /** Once per object version: a bad slice stays bad until someone edits it, and must not flood the log. */
  private logNewProblems(problems: readonly TranslateProblem[]): void {
    const current = new Set<string>();
    for (const problem of problems) {
      const key = `${problem.kind} ${problem.path}@${problem.resourceVersion ?? ''}: ${problem.message}`;
      current.add(key);
      if (!this.loggedProblems.has(key)) {
        this.logger.warn({ problem }, `ignoring part of a ${problem.kind}: ${problem.path}: ${problem.message}`);
      }
    }
    this.loggedProblems = current;
  }
}

/** Nodes carry their whole status (images, conditions); the zone label is all we read. */
function projectNode(node: V1Node): V1Node {
  const zone = node.metadata?.labels?.[ZONE_LABEL];
  return {
    metadata: {
      name: node.metadata?.name,
      resourceVersion: node.metadata?.resourceVersion,
      ...(zone !== undefined ? { labels: { [ZONE_LABEL]: zone } } : {}),
    },
  };
}

/** Pods change status often and are many; our annotations and the node (a client's zone) are all we read. */
function projectPod(pod: V1Pod): V1Pod {
  const all = pod.metadata?.annotations ?? {};
  const annotations = Object.fromEntries(
    Object.values(POD_ANNOTATION)
      .filter((key) => all[key] !== undefined)
      .map((key) => [key, all[key] as string]),
  );
  return {
    metadata: {
      name: pod.metadata?.name,
      namespace: pod.metadata?.namespace,
      resourceVersion: pod.metadata?.resourceVersion,
      annotations,
    },
    ...(pod.spec?.nodeName ? { spec: { nodeName: pod.spec.nodeName, containers: [] } } : {}),
  };
}
