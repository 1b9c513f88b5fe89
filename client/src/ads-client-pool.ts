/** One AdsClient (one stream) per control-plane address for the whole process. */
import { AdsClient, type AdsClientOptions } from './ads-client.ts';

const clients = new Map<string, AdsClient>();

export function sharedAdsClient(options: AdsClientOptions): AdsClient {
  let client = clients.get(options.address);
  if (!client) {
    client = new AdsClient(options);
    clients.set(options.address, client);
  }
  return client;
}

export function allAdsClients(): readonly AdsClient[] {
  return [...clients.values()];
}

/** Closes every stream (tests, shutdown); the next watch opens a new client. */
export function closeAllAdsClients(): void {
  for (const client of clients.values()) client.close();
  clients.clear();
}
