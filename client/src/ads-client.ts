/**
 * Our ADS client, state of the world, EDS only: one stream per control-plane address shared by
 * every channel of the process (see ads-client-pool.ts).
 *
 * Protocol rules it keeps: every request carries all watched names; an ACK repeats the response's
 * version and nonce; a NACK carries the last *accepted* version, the response's nonce and an
 * error_detail listing every problem with its path; valid resources in a partly invalid response
 * are still used (gRPC A46); a new stream resends the names with the last accepted version.
 * Static stability: watchers keep their last good assignment through NACKs and outages; the
 * client only tells them what went wrong.
 */
import * as grpc from '@grpc/grpc-js';
import {
  adsGrpc,
  Backoff,
  type ClusterLoadAssignment__Output,
  type DiscoveryRequest,
  type DiscoveryResponse__Output,
  decodeMessage,
  type Logger,
  TYPE_URL,
  toProtoStruct,
} from '@skewless/shared';
import { type EndpointAssignment, formatProblems, parseAssignment } from './eds-assignment.ts';
import type { Random } from './random.ts';

export interface EdsWatcher {
  /** A new valid assignment (never called synchronously from `watch`). */
  onAssignment(assignment: EndpointAssignment): void;
  /** Something went wrong; the last good assignment (if any) stays valid. */
  onError(message: string, kind: 'invalid-update' | 'unreachable'): void;
}

export interface AdsClientOptions {
  readonly address: string;
  readonly node: {
    readonly id: string;
    readonly zone?: string | undefined;
    readonly metadata: Record<string, string | boolean>;
  };
  readonly logger: Logger;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly random?: Random;
  readonly credentials?: grpc.ChannelCredentials;
}

type AdsStream = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>;

export interface AdsClientStatus {
  readonly address: string;
  readonly connected: boolean;
  readonly everAnswered: boolean;
  readonly acks: number;
  readonly nacks: number;
  readonly lastNack: string | undefined;
  readonly streamsStarted: number;
}

export class AdsClient {
  private readonly options: AdsClientOptions;
  private readonly backoff: Backoff;
  private readonly watchers = new Map<string, Set<EdsWatcher>>();
  private readonly cache = new Map<string, EndpointAssignment>();
  private client: grpc.Client | undefined;
  private stream: AdsStream | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private acceptedVersion = '';
  private nonce = '';
  private sentNode = false;
  private connected = false;
  private everAnswered = false;
  private acks = 0;
  private nacks = 0;
  private lastNack: string | undefined;
  private streamsStarted = 0;
  private closed = false;

  constructor(options: AdsClientOptions) {
    this.options = options;
    this.backoff = new Backoff({
      initialMs: options.initialBackoffMs,
      maxMs: options.maxBackoffMs,
      ...(options.random ? { random: options.random } : {}),
    });
  }

  /** Starts watching `name`; returns the cancel function. A cached assignment is delivered at once (async). */
  watch(name: string, watcher: EdsWatcher): () => void {
    let set = this.watchers.get(name);
    const isNew = !set;
    if (!set) {
      set = new Set();
      this.watchers.set(name, set);
    }
    set.add(watcher);
    const cached = this.cache.get(name);
    if (cached) queueMicrotask(() => set.has(watcher) && watcher.onAssignment(cached));
    if (!this.stream && !this.retryTimer) this.startStream();
    else if (isNew) this.sendRequest();
    return () => {
      set.delete(watcher);
      if (set.size > 0) return;
      this.watchers.delete(name);
      if (this.watchers.size === 0) this.stopStream();
      else this.sendRequest();
    };
  }

  status(): AdsClientStatus {
    return {
      address: this.options.address,
      connected: this.connected,
      everAnswered: this.everAnswered,
      acks: this.acks,
      nacks: this.nacks,
      lastNack: this.lastNack,
      streamsStarted: this.streamsStarted,
    };
  }

  close(): void {
    this.closed = true;
    this.stopStream();
    this.client?.close();
    this.client = undefined;
  }

  private startStream(): void {
    if (this.closed || this.watchers.size === 0) return;
    this.retryTimer = undefined;
    if (!this.client) {
      const Service = adsGrpc().envoy.service.discovery.v3.AggregatedDiscoveryService;
      this.client = new Service(this.options.address, this.options.credentials ?? grpc.credentials.createInsecure(), {
        // Detect a dead control plane on an idle stream too (the EDS stream may be quiet for hours).
        'grpc.keepalive_time_ms': 30_000,
        'grpc.keepalive_timeout_ms': 10_000,
      });
    }
    const stream = (this.client as unknown as { StreamAggregatedResources(): AdsStream }).StreamAggregatedResources();
    this.stream = stream;
    this.streamsStarted += 1;
    this.nonce = '';
    this.sentNode = false;
    stream.on('data', (response: DiscoveryResponse__Output) => {
      if (this.stream === stream) this.onResponse(response);
    });
    stream.on('error', (error: grpc.ServiceError) => {
      if (this.stream === stream)
        this.onStreamEnded(
          `${error.code === undefined ? '' : `${grpc.status[error.code]}: `}${error.details ?? error.message}`,
        );
    });
    stream.on('end', () => {
      if (this.stream === stream) this.onStreamEnded('stream ended by the control plane');
    });
    this.sendRequest();
  }

  private stopStream(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    this.connected = false;
    stream?.cancel();
  }

  private onStreamEnded(reason: string): void {
    this.stream = undefined;
    this.connected = false;
    if (this.closed || this.watchers.size === 0) return;
    const delayMs = this.backoff.nextDelayMs();
    this.options.logger.warn(
      { address: this.options.address, reason, retryInMs: Math.round(delayMs) },
      'ADS stream lost; keeping last good endpoints',
    );
    for (const set of this.watchers.values())
      for (const w of set) w.onError(`control plane ${this.options.address} unreachable: ${reason}`, 'unreachable');
    this.retryTimer = setTimeout(() => this.startStream(), delayMs);
    this.retryTimer.unref?.();
  }

  private sendRequest(errorDetail?: string): void {
    const stream = this.stream;
    if (!stream) return;
    const request: DiscoveryRequest = {
      type_url: TYPE_URL.clusterLoadAssignment,
      resource_names: [...this.watchers.keys()].sort(),
      version_info: this.acceptedVersion,
      response_nonce: this.nonce,
    };
    if (!this.sentNode) {
      const { node } = this.options;
      request.node = {
        id: node.id,
        user_agent_name: 'skewless-client',
        metadata: toProtoStruct(node.metadata),
        ...(node.zone ? { locality: { zone: node.zone } } : {}),
      };
      this.sentNode = true;
    }
    if (errorDetail !== undefined) request.error_detail = { code: grpc.status.INVALID_ARGUMENT, message: errorDetail };
    stream.write(request);
  }

  private onResponse(response: DiscoveryResponse__Output): void {
    this.connected = true;
    this.everAnswered = true;
    this.backoff.reset();
    this.nonce = response.nonce;
    if (response.type_url !== TYPE_URL.clusterLoadAssignment) {
      this.nack(`type_url: "${response.type_url}" was not requested (this client only subscribes to EDS)`, response);
      return;
    }
    const problems: string[] = [];
    const valid: EndpointAssignment[] = [];
    const invalidByName = new Map<string, string>();
    // Our loader options decode Any as { type_url, value } (no `json: true` expansion).
    (response.resources as unknown as { type_url: string; value: Buffer }[]).forEach((resource, i) => {
      const at = `resources[${i}]`;
      if (resource.type_url !== TYPE_URL.clusterLoadAssignment) {
        problems.push(`${at}.type_url: "${resource.type_url}" is not a ClusterLoadAssignment`);
        return;
      }
      let cla: ClusterLoadAssignment__Output;
      try {
        cla = decodeMessage<ClusterLoadAssignment__Output>(TYPE_URL.clusterLoadAssignment, resource.value);
      } catch (error) {
        problems.push(`${at}.value: cannot decode ClusterLoadAssignment (${(error as Error).message})`);
        return;
      }
      const result = parseAssignment(cla);
      if (result.ok) valid.push(result.value);
      else {
        const message = formatProblems(result.problems, `${at}(${cla.cluster_name}).`);
        problems.push(message);
        invalidByName.set(cla.cluster_name, message);
      }
    });
    for (const assignment of valid) {
      const watchers = this.watchers.get(assignment.serviceName);
      if (!watchers) continue;
      this.cache.set(assignment.serviceName, assignment);
      for (const w of watchers) w.onAssignment(assignment);
    }
    if (problems.length === 0) {
      this.acceptedVersion = response.version_info;
      this.acks += 1;
      this.sendRequest();
      return;
    }
    for (const [name, message] of invalidByName) {
      for (const w of this.watchers.get(name) ?? []) w.onError(`invalid update rejected: ${message}`, 'invalid-update');
    }
    this.nack(problems.join('; '), response);
  }

  private nack(message: string, response: DiscoveryResponse__Output): void {
    this.nacks += 1;
    this.lastNack = message;
    this.options.logger.warn(
      {
        address: this.options.address,
        rejectedVersion: response.version_info,
        keptVersion: this.acceptedVersion,
        problems: message,
      },
      'NACK: invalid EDS update rejected, keeping last good endpoints',
    );
    this.sendRequest(message);
  }
}
