/** The host bridge a testbed Docker engine puts its containers on (`dockerd --bridge`). */
import { ip } from '../cluster/netns.ts';

export async function bridgeExists(name: string): Promise<boolean> {
  const out = await ip(['-o', 'link', 'show', 'type', 'bridge']);
  return out.split('\n').some((line) => line.split(':')[1]?.trim() === name);
}

/** Creates the bridge with its address and brings it up; a leftover of the same name is replaced. */
export async function ensureBridge(name: string, cidr: string): Promise<void> {
  await deleteBridge(name);
  await ip(['link', 'add', name, 'type', 'bridge']);
  await ip(['addr', 'add', cidr, 'dev', name]);
  await ip(['link', 'set', name, 'up']);
}

export async function deleteBridge(name: string): Promise<void> {
  if (await bridgeExists(name)) await ip(['link', 'del', name]);
}
