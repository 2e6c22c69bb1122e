// The local spool: durable markers for WAL files already stored by an earlier archive call
// ("archive ahead"), and segments prefetched for restore. Only node:fs here, so the
// archive fast path can check a marker without loading the AWS SDK.
//
// A marker's first line is "<size> <inode> <mtime seconds>" of the WAL file it vouches for —
// exactly what `stat -c '%s %i %Y'` prints, so archive-fast.sh can check it without Node.
// The marker is written (temp + fsync + rename) only after the object is durable in storage.
import fs from 'node:fs';
import path from 'node:path';

export const DEFAULT_SPOOL = path.join('pg_wal', 'skytools_walmgr');

export function spoolDir(pgdata: string, spool?: string): string {
  return path.resolve(pgdata, spool ?? DEFAULT_SPOOL);
}

export function markerPath(spool: string, walName: string): string {
  return path.join(spool, 'archive', `${walName}.ok`);
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

export function writeMarker(spool: string, walName: string, stamp: string, detail: object): void {
  const m = markerPath(spool, walName);
  fs.mkdirSync(path.dirname(m), { recursive: true });
  const tmp = `${m}.tmp.${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, `${stamp}\n${JSON.stringify(detail)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, m);
  const dfd = fs.openSync(path.dirname(m), 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

export function restoreSpoolPath(spool: string, walName: string): string {
  return path.join(spool, 'restore', walName);
}
