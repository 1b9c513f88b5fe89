/**
 * client-node's ListWatch (what `makeInformer` builds), made safe to publish from:
 *
 * - It restarts after an error. ListWatch relists on 410 and reconnects after a clean close by itself,
 *   but after any other error (API server down, connection reset) it emits 'error' and stops for good.
 *   We start it again after a capped, jittered backoff.
 * - It says when its cache is complete. ListWatch has no `hasSynced`: it emits 'connect' *before*
 *   listing, then replaces its cache with the list while emitting delete/add/update diffs. We count
 *   as synced only once a list has been fully applied, and as not synced from the moment a relist
 *   starts until it has been applied, so nobody publishes the transient state in between.
 * - It can keep only what we read of each object (`project`), so watching every Pod and Node of a
 *   large cluster costs a few hundred bytes per object instead of the full object with its status.
 *
 * It builds the ListWatch itself (as `makeInformer` does) to hook the Watch: ListWatch starts a watch
 * only after a list is in its cache, which is the one reliable "list applied" signal it gives.
 */
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import { Backoff, type BackoffOptions, type Logger } from '@skewless/shared';

export type InformerEvent = 'add' | 'update' | 'delete';

export interface ResilientInformerOptions<T extends KubernetesObject> {
  /** For logs, e.g. `endpointslices in default`. */
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  /** Watch path, e.g. `/apis/discovery.k8s.io/v1/namespaces/default/endpointslices`. */
  readonly path: string;
  /** Lists the same collection as `path` (with the same label selector). */
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  /** Keeps only the fields we read (must keep metadata.name, namespace and resourceVersion). */
  readonly project?: (object: T) => T;
  readonly backoff: BackoffOptions;
  readonly now: () => number;
  readonly logger: Logger;
  /** Called for every change, including the diffs of a relist. Never called after `stop()`. */
  readonly onEvent: (event: InformerEvent, object: T) => void;
  /** Called whenever `isSynced()` may have changed. */
  readonly onSyncChange: () => void;
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly options: ResilientInformerOptions<T>;
  private readonly listWatch: ListWatch<T>;
  private readonly backoff: Backoff;
  private listGeneration = 0;
  private listing = false;
  private listedOnce = false;
  private stopped = true;
  private restartTimer: NodeJS.Timeout | undefined;
  private startedAtMs = 0;
  private errorCount = 0;

  constructor(options: ResilientInformerOptions<T>) {
    this.options = options;
    this.backoff = new Backoff(options.backoff);
    const watch = new HookedWatch(options.kubeConfig, () => this.listApplied(), options.project);
    this.listWatch = new ListWatch<T>(options.path, watch, () => this.list(), false, options.labelSelector);
    for (const event of ['add', 'update', 'delete'] as const) {
      this.listWatch.on(event, (object) => this.deliver(event, object));
    }
    this.listWatch.on('error', (error) => this.failed(error));
  }

  /** True once a list has been fully applied, and false again while a relist is under way. */
  isSynced(): boolean {
    return this.listedOnce && !this.listing;
  }

  /** Watch errors seen so far (each one followed by a restart). */
  errors(): number {
    return this.errorCount;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.listWatch.stop();
  }

  private run(): void {
    this.startedAtMs = this.options.now();
    // start() rejects only when a watch cannot even be built; treat it like any other watch error.
    this.listWatch.start().catch((error: unknown) => this.failed(error));
  }

  private async list(): Promise<KubernetesListObject<T>> {
    const generation = ++this.listGeneration;
    this.setListing(true);
    const result = await this.options.list();
    const { project } = this.options;
    if (project) result.items = result.items.map(project);
    const resourceVersion = result.metadata?.resourceVersion;
    // ListWatch applies the list in the continuation of this promise and then records its
    // resourceVersion; seeing that version a macrotask later means the cache is exactly this list.
    // (If not, the next watch start marks it, see HookedWatch.)
    setImmediate(() => {
      if (generation === this.listGeneration && this.listWatch.latestResourceVersion() === resourceVersion) {
        this.listApplied();
      }
    });
    this.options.logger.debug({ informer: this.options.name, items: result.items.length }, 'listed');
    return result;
  }

  private listApplied(): void {
    if (!this.listing || this.stopped) return;
    this.listedOnce = true;
    this.backoff.reset();
    this.setListing(false);
  }

  private setListing(listing: boolean): void {
    if (this.listing === listing) return;
    this.listing = listing;
    this.options.onSyncChange();
  }

  private deliver(event: InformerEvent, object: T): void {
    if (this.stopped) return;
    try {
      this.options.onEvent(event, object);
    } catch (error) {
      // A bug in a handler must not unwind into ListWatch, which would leave its cache half-applied.
      this.options.logger.error({ informer: this.options.name, err: error }, 'event handler failed');
    }
  }

  private failed(error: unknown): void {
    if (this.stopped || this.restartTimer !== undefined) return;
    this.errorCount += 1;
    // A watch that ran longer than the backoff cap was healthy: start the backoff over.
    if (this.options.now() - this.startedAtMs > this.options.backoff.maxMs) this.backoff.reset();
    const delayMs = Math.round(this.backoff.nextDelayMs());
    this.options.logger.warn(
      { informer: this.options.name, error: describeError(error), delayMs, synced: this.isSynced() },
      'watch failed; keeping the last state and restarting after a backoff',
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) this.run();
    }, delayMs);
  }
}

type WatchCallback = Parameters<Watch['watch']>[2];
type WatchDone = Parameters<Watch['watch']>[3];

/** A Watch that reports each (re)start to its informer and projects the objects it delivers. */
class HookedWatch<T extends KubernetesObject> extends Watch {
  private readonly onWatchStart: () => void;
  private readonly project: ((object: T) => T) | undefined;

  constructor(kubeConfig: KubeConfig, onWatchStart: () => void, project: ((object: T) => T) | undefined) {
    super(kubeConfig);
    this.onWatchStart = onWatchStart;
    this.project = project;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback,
    done: WatchDone,
  ): Promise<AbortController> {
    this.onWatchStart();
    const { project } = this;
    const deliver: WatchCallback = project
      ? (phase, object, raw) => callback(phase, OBJECT_PHASES.has(phase) ? project(object as T) : object, raw)
      : callback;
    try {
      return await super.watch(path, queryParams, deliver, done);
    } catch (error) {
      // ListWatch awaits this from a callback nobody catches: report through `done` instead of throwing.
      done(error);
      return new AbortController();
    }
  }
}

const OBJECT_PHASES = new Set(['ADDED', 'MODIFIED', 'DELETED']);

function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error || (typeof error === 'object' && error !== null)) {
    const e = error as { name?: string; message?: string; code?: unknown; statusCode?: unknown; cause?: unknown };
    const cause = e.cause as { code?: unknown } | undefined;
    return { name: e.name, message: e.message, code: e.code ?? cause?.code, statusCode: e.statusCode };
  }
  return { message: String(error) };
}
