/**
 * Thin, logged wrappers over iproute2 for the network namespaces the testbed creates. Every name we
 * create starts with `sk-<run id>-`, so a run only ever lists, enters or deletes its own namespaces.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const NETNS_PREFIX = 'sk-';

/** Runs `ip <args>`; a failure names the command and what iproute2 said. */
export async function ip(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args);
    return stdout;
  } catch (error) {
    const { stderr, code } = error as { stderr?: string; code?: string | number };
    if (code === 'ENOENT') throw new Error("'ip' is not on PATH: install Debian's iproute2 (make tools)");
    throw new Error(`ip ${args.join(' ')}: ${String(stderr ?? error).trim()}`);
  }
}

/**
 * Runs several `ip` commands inside `netns` in one process (`ip -n <netns> -batch -`), each line as in
 * `ip <line>`. Always inside a namespace: a batch can never touch the machine's own interfaces.
 */
export async function ipBatch(netns: string, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', ['-n', netns, '-batch', '-'], (error, _stdout, stderr) => {
      if (error)
        reject(
          new Error(`ip -n ${netns} -batch failed: ${String(stderr || error.message).trim()}\n  ${lines.join('\n  ')}`),
        );
      else resolve();
    });
    child.stdin?.end(`${lines.join('\n')}\n`);
  });
}

/** Writes a sysctl inside a namespace (`/proc/sys` is per network namespace for net.*). */
export async function netnsSysctl(netns: string, key: string, value: string): Promise<void> {
  try {
    await run('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', `${key}=${value}`]);
  } catch (error) {
    throw new Error(
      `sysctl ${key}=${value} in ${netns}: ${String((error as { stderr?: string }).stderr ?? error).trim()}`,
    );
  }
}

export async function listNetns(prefix: string): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}

/** PIDs of every process inside a namespace: in one of ours, every one of them is ours to stop. */
export async function netnsPids(netns: string): Promise<number[]> {
  const out = await ip(['netns', 'pids', netns]).catch(() => '');
  return out
    .split('\n')
    .map((line) => Number.parseInt(line, 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** SIGKILLs whatever still runs inside the namespace, then deletes it (its veths and bridges go with it). */
export async function destroyNetns(netns: string): Promise<void> {
  for (const pid of await netnsPids(netns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await ip(['netns', 'delete', netns]).catch((error: Error) => {
    if (!/No such file/.test(error.message)) throw error;
  });
}
