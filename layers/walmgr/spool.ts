// The local spool: markers for WAL files already stored by an earlier archive call
// ("archive ahead"), and segments prefetched for restore. Only node:fs here, so the
// archive fast path can check a marker without loading the AWS SDK.
//
// A marker's first line is "<size> <inode> <mtime seconds>" of the WAL file it vouches for —
// exactly what `stat -c '%s %i %Y'` prints, so archive-fast.sh can check it without Node.
// The marker is written (temp + rename) only after the object is durable in storage.
import fs from 'node:fs';
import path from 'node:path';

export const DEFAULT_SPOOL = path.join('pg_wal', 'skytools_walmgr');

export function spoolDir(pgdata: string, spool?: string): string {
  return path.resolve(pgdata, spool ?? DEFAULT_SPOOL);
}

export function markerPath(spool: string, walName: string): string {
  return path.join(spool, 'archive', `${walName}.ok`);
}

/** The lock of the background `archive-ahead` process: its pid, and the file its starter stores. */
export function aheadLockPath(spool: string): string {
  return path.join(spool, '.archive-ahead.lock');
}

/** What `archive-ahead` says (its failures, a crash): it has no terminal or server log. */
export function aheadLogPath(spool: string): string {
  return path.join(spool, 'archive-ahead.log');
}

/** Left by `archive-ahead` for a file it failed to store: its own call stores it (or says why). */
export function aheadErrorPath(spool: string, walName: string): string {
  return path.join(spool, 'archive', `${walName}.error`);
}

export function fileStamp(st: fs.Stats): string {
  return `${st.size} ${st.ino} ${Math.floor(st.mtimeMs / 1000)}`;
}

/** True (and the marker consumed) when a marker vouches for exactly this file. */
export function consumeMarker(spool: string, walName: string, walPath: string): boolean {
  const m = markerPath(spool, walName);
  let text: string;
  try {
    text = fs.readFileSync(m, 'utf8');
  } catch {
    return false;
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(walPath);
  } catch {
    return false;
  }
  if (text.split('\n', 1)[0] !== fileStamp(st)) return false;
  fs.rmSync(m, { force: true });
  return true;
}

/**
 * Written after the object is durable in storage; temp + rename so a reader never sees half
 * a marker. Not fsynced, on purpose: a marker lost or emptied by an OS crash only makes the
 * next call store (find) the file again, while an fsync per marker on the main thread cost
 * ~28 ms each — a fifth of an archive-ahead call's time.
 */
export async function writeMarker(
  spool: string,
  walName: string,
  stamp: string,
  detail: object,
): Promise<void> {
  const m = markerPath(spool, walName);
  await fs.promises.mkdir(path.dirname(m), { recursive: true });
  const tmp = `${m}.tmp.${process.pid}`;
  await fs.promises.writeFile(tmp, `${stamp}\n${JSON.stringify(detail)}\n`, { mode: 0o600 });
  await fs.promises.rename(tmp, m);
}

export function restoreSpoolPath(spool: string, walName: string): string {
  return path.join(spool, 'restore', walName);
}

/**
 * Wakes the background processes (restore's prefetcher, archive-ahead) when `dir` changes
 * (inotify through fs.watch) instead of polling it: a slot waits for a change or `ms`,
 * whichever comes first. Polling every 25 ms from each slot cost more CPU than it saved.
 */
export function dirWaiter(dir: string): { wait(ms: number): Promise<void>; close(): void } {
  let wake: (() => void)[] = [];
  let watcher: fs.FSWatcher | null = null;
  try {
    watcher = fs.watch(dir, { persistent: false }, () => {
      const w = wake;
      wake = [];
      for (const f of w) f();
    });
    watcher.on('error', () => {});
  } catch {
    // No inotify (or the directory is gone): the timeout alone wakes the slots.
  }
  return {
    wait: (ms) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          resolve();
        }
        wake.push(done);
      }),
    close: () => watcher?.close(),
  };
}
