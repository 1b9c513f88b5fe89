/**
 * One process at a time starts, joins or stops the engine. The lock is a kernel `flock` held by a
 * small `flock … cat` child: if this process dies, the child's stdin closes, `cat` ends and the kernel
 * drops the lock — no stale lock file to judge by pid.
 */
import { spawn } from 'node:child_process';

export async function withEngineLock<T>(lockFile: string, timeoutMs: number, run: () => Promise<T>): Promise<T> {
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const child = spawn(
    'flock',
    ['--exclusive', '--wait', String(seconds), lockFile, 'sh', '-c', 'echo locked; exec cat'],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`cannot take the engine lock ${lockFile}: flock (util-linux) failed: ${error.message}`)),
    );
    child.stdout.setEncoding('utf8').once('data', () => resolve());
    void exited.then((code) =>
      reject(
        new Error(
          `cannot take the engine lock ${lockFile} within ${seconds} s (flock exit ${code}): ${stderr.trim() || 'another process holds it'}`,
        ),
      ),
    );
  });
  try {
    return await run();
  } finally {
    child.stdin.end();
    await exited;
  }
}
