// Kills a remote/serial consumer process (test/pgq/fixtures/crashing-remote-consumer.ts)
// right after its target commit, before finish_batch: the window exactly-once must survive.
import { spawn } from 'node:child_process';
import path from 'node:path';

const fixture = path.resolve(import.meta.dirname, '../pgq/fixtures/crashing-remote-consumer.ts');

/**
 * Runs the child until it reports the target commit (READY), then SIGKILLs it. Returns the
 * batch it died in and the batches it finished unread on the way (already applied).
 */
export async function killAfterTargetCommit(
  queueUrl: string,
  targetUrl: string,
  queue: string,
  consumer: string,
  mode: 'remote' | 'serial',
): Promise<{ batchId: bigint; skipped: bigint[] }> {
  const child = spawn(process.execPath, [fixture, queueUrl, targetUrl, queue, consumer, mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready in 45 s: ${out} ${err}`)), 45_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before READY: ${out} ${err}`));
    });
  });
  child.kill('SIGKILL');
  await exited;
  const skipped = [...out.matchAll(/SKIPPED (\d+)/g)].map((m) => BigInt(m[1]!));
  return { batchId: BigInt(ready), skipped };
}
