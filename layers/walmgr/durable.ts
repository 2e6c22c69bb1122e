// Makes a restore durable before it reports success (Flusher below starts the writeback of each
// file as it lands): a restore that exits 0 and a crash right
// after must not leave files PostgreSQL would start from with holes. One syncfs(2) per file
// system written (PGDATA, each tablespace target) at the end, through coreutils'
// `sync -f DIR`, which calls syncfs on DIR (Node has no syncfs): the kernel writes back the
// whole restore at once, rather than a thousand fsync calls (pgBackRest's way) each waiting
// for its own journal commit. Where `sync -f` is missing or fails, every file and directory
// under the targets is fsynced instead.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { fsyncPath } from '../util/fsync.ts';

const run = promisify(execFile);

export type SyncMethod = 'syncfs' | 'fsync';

/**
 * Restore leaves files below this to the final syncfs (a big file's pieces are synced as they
 * land, whatever the piece size). Each fdatasync of a new small file is a
 * journal commit for a few KiB, and a commit holds up the file creations and timestamp updates
 * behind it: in a restore of the bench's data the ~970 small files of a bundle (one worker creates them all)
 * spent 2.0 s of that worker's 13 s in open(2) while they were flushed one by one. Their bytes
 * are few (the big files' pieces are what the early flush is for), so syncfs takes them at once.
 */
export const SMALL_FILE = 1024 * 1024;

/**
 * Starts the writeback of restored files while the restore goes on: `file(path)` after each piece
 * or file is written queues an fdatasync of it (on libuv's thread pool, `limit` at a time; a
 * file already queued is synced once more after its running sync). With 24 GiB of memory a
 * 1.5 GiB restore never reaches the kernel's background writeback threshold, so without this
 * all of it waits for the final syncfs (1.3–3.6 s of wall in timed runs). `done()` waits for
 * every queued sync and throws the first failure; the final syncRestored still runs (it covers
 * directories and what was not queued).
 */
export class Flusher {
  private readonly state = new Map<string, { again: boolean }>();
  private readonly queue: string[] = [];
  private running = 0;
  private error: unknown = null;
  private idle: (() => void) | null = null;
  private readonly limit: number;
  private readonly minBytes: number;

  /** `minBytes`: a file smaller than this is left to the final syncRestored (see SMALL_FILE). */
  constructor(limit = 2, minBytes = 0) {
    this.limit = limit;
    this.minBytes = minBytes;
  }

  /** `size`: the size of the file `p` (absent: always synced); each of its pieces is synced. */
  file(p: string, size = Number.POSITIVE_INFINITY): void {
    if (size < this.minBytes) return;
    const st = this.state.get(p);
    if (st) {
      st.again = true;
      return;
    }
    this.state.set(p, { again: false });
    this.queue.push(p);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.limit && this.queue.length > 0) {
      const p = this.queue.shift()!;
      this.running++;
      this.sync(p).finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) this.idle?.();
      });
    }
  }

  private async sync(p: string): Promise<void> {
    const st = this.state.get(p)!;
    try {
      do {
        st.again = false;
        const fh = await fs.open(p, 'r');
        try {
          await fh.datasync();
        } finally {
          await fh.close();
        }
      } while (st.again);
    } catch (err) {
      this.error ??= err;
    } finally {
      this.state.delete(p);
    }
  }

  async done(): Promise<void> {
    if (this.running > 0 || this.queue.length > 0)
      await new Promise<void>((r) => {
        this.idle = r;
      });
    if (this.error) throw this.error;
  }
}

/** fsync of every file and directory under dir (directories after their entries). */
async function fsyncTree(dir: string): Promise<number> {
  let n = 0;
  const visit = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await visit(p);
      else if (e.isFile()) {
        await fsyncPath(p);
        n++;
      }
    }
    await fsyncPath(d);
  };
  await visit(dir);
  return n;
}

/**
 * Flushes what was written under `dirs` to stable storage; one syncfs per distinct file
 * system (by device), or fsync of every entry with `method: 'fsync'` or when syncfs fails.
 */
export async function syncRestored(
  dirs: string[],
  method: SyncMethod = 'syncfs',
): Promise<{ method: SyncMethod; filesystems: number }> {
  const byDev = new Map<number, string>();
  for (const d of dirs) {
    const st = await fs.stat(d);
    if (!byDev.has(st.dev)) byDev.set(st.dev, d);
  }
  let used: SyncMethod = method;
  for (const d of byDev.values()) {
    if (method === 'syncfs') {
      const ok = await run('sync', ['-f', d]).then(
        () => true,
        () => false,
      );
      if (ok) continue;
      used = 'fsync';
    }
  }
  // Each target's tree, not only the file systems that fell back: cheap to reason about.
  if (used === 'fsync') for (const d of dirs) await fsyncTree(d);
  return { method: used, filesystems: byDev.size };
}
