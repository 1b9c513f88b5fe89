/**
 * Channel construction: the only thing that differs between modes. Each channel is its own
 * grpc.Client with its own connections. grpc-js otherwise shares subchannels (and so TCP
 * connections) between channels of one process whose target address and options match, through
 * its global subchannel pool; then N "channels" of the kube-proxy baseline would be one connection
 * pinned to one pod, and the baseline would look worse than N separate clients really are.
 */
import * as grpc from '@grpc/grpc-js';
import { type EchoClient, echoGrpc } from '@skewless/shared';
import type { LoadMode } from './load-config.ts';

/** Channel option carrying the channel's index: distinct options keep channels apart in any pool. */
export const CHANNEL_INDEX_OPTION = 'skewless.load.channel_index';

const ROUND_ROBIN_SERVICE_CONFIG = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });

export function channelOptions(mode: LoadMode, index: number): grpc.ChannelOptions {
  return {
    'grpc.use_local_subchannel_pool': 1,
    [CHANNEL_INDEX_OPTION]: index,
    // pick-first is grpc-js's default policy: no service config, exactly what an application gets.
    ...(mode === 'round-robin' ? { 'grpc.service_config': ROUND_ROBIN_SERVICE_CONFIG } : {}),
  };
}

/**
 * `count` Echo clients for `target`. In skewless mode the caller has called `register()` first, so
 * the `skewless:` scheme resolves. Throws when grpc-js rejects the target.
 */
export function createEchoClients(mode: LoadMode, target: string, count: number): EchoClient[] {
  const { Client } = echoGrpc();
  const clients: EchoClient[] = [];
  try {
    for (let i = 0; i < count; i++)
      clients.push(new Client(target, grpc.credentials.createInsecure(), channelOptions(mode, i)));
  } catch (error) {
    for (const c of clients) c.close();
    throw error;
  }
  return clients;
}
