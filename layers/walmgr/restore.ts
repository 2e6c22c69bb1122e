// `walmgr restore`: downloads a base backup in parallel into an empty data directory,
// verifying each file's size and SHA-256, then writes backup_label, tablespace_map, the
// recovery settings (restore_command = walmgr restore-wal, targets) and the signal file.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Storage } from '../storage/types.ts';
import { Flusher, SMALL_FILE, type SyncMethod, syncRestored } from './durable.ts';
import { WalError } from './errors.ts';
import { fetchBackupFiles } from './fetch-backup.ts';
import { checkReferences } from './incremental.ts';
import { findBackup, type Manifest, readManifest } from './manifest.ts';
import { PieceWorkers } from './piece-worker.ts';
import type { Progress } from './progress.ts';
import { DEFAULT_SPOOL } from './spool.ts';
import { linkTablespaces, planTablespaces, tablespaceMapFile } from './tablespaces.ts';

export interface RecoveryTarget {
  time?: string;
  lsn?: string;
  xid?: string;
  /** recovery_target_action; default 'promote' when a target is given. */
  action?: 'pause' | 'promote' | 'shutdown';
  inclusive?: boolean;
}

export interface RestoreOptions {
  storage: Storage;
  /** 'latest' or a backup id. */
  backup: string;
  systemId?: string;
  pgdata: string;
  parallel: number;
  /** Worker threads for decompress + check + write (fetch-backup.ts); default none. */
  workers?: number;
  /** Full restore_command to write (must contain %f and %p). */
  restoreCommand: string;
  target?: RecoveryTarget;
  standby?: boolean;
  /** --tablespace-map entries: tablespace OID or name → new absolute location. */
  tablespaceMap?: ReadonlyMap<string, string>;
  progress?: (msg: string) => void;
  /** Files and bytes restored as they go (progress.ts). */
  meter?: Progress;
  /** How the restore is made durable at the end (durable.ts); default syncfs. */
  syncMethod?: SyncMethod;
}

/** Quotes a value for postgresql.conf. */
export function confQuote(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

async function ensureEmptyDir(dir: string): Promise<void> {
  const entries = await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (entries && entries.length > 0) {
    throw new WalError(
      'invalid',
      `target data directory ${dir} is not empty; restore into a new or empty directory`,
    );
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
}

const TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT)?$/i;
const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;
const XID = /^[0-9]{1,20}$/;

/**
 * Refuses a recovery target PostgreSQL would refuse at start (after the whole restore): one target
 * at most, a time as `YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][ zone]` that exists on the calendar, an LSN
 * as `X/X` in hex, a transaction id as digits.
 */
export function checkRecoveryTarget(t: RecoveryTarget): void {
  if ([t.time, t.lsn, t.xid].filter((v) => v !== undefined).length > 1) {
    throw new WalError('invalid', 'give at most one of --target-time, --target-lsn, --target-xid');
  }
  if (t.time !== undefined) {
    const m = TIME.exec(t.time.trim());
    const [y, mo, d, h = '0', mi = '0', sec = '0'] = m ? m.slice(1) : [];
    const day = m ? new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))) : null;
    const real =
      day !== null &&
      day.getUTCMonth() === Number(mo) - 1 &&
      day.getUTCDate() === Number(d) &&
      Number(h) < 24 &&
      Number(mi) < 60 &&
      Number(sec) < 60;
    if (!real)
      throw new WalError(
        'invalid',
        `--target-time ${JSON.stringify(t.time)} is not a time: use e.g. "2026-01-02 03:04:05+00" (date, time, optional zone)`,
      );
  }
  if (t.lsn !== undefined && !LSN.test(t.lsn.trim()))
    throw new WalError(
      'invalid',
      `--target-lsn ${JSON.stringify(t.lsn)} is not an LSN: use e.g. 0/3000060 (hex/hex)`,
    );
  if (t.xid !== undefined && (!XID.test(t.xid.trim()) || BigInt(t.xid.trim()) === 0n))
    throw new WalError(
      'invalid',
      `--target-xid ${JSON.stringify(t.xid)} is not a transaction id: use its number, e.g. 1234`,
    );
}

export async function restoreBackup(opts: RestoreOptions): Promise<Manifest> {
  if (!opts.restoreCommand.includes('%f') || !opts.restoreCommand.includes('%p')) {
    throw new WalError(
      'invalid',
      `restore command ${JSON.stringify(opts.restoreCommand)} must contain %f and %p`,
    );
  }
  const t = opts.target ?? {};
  checkRecoveryTarget(t);
  // The workers start now: their start-up (~0.1 s of CPU each) runs on the other cores while
  // this thread lists the backups and reads the manifest.
  const workers = opts.workers ? new PieceWorkers(opts.workers) : null;
  try {
    return await restoreWith(opts, t, workers ?? 0);
  } finally {
    await workers?.close();
  }
}

async function restoreWith(
  opts: RestoreOptions,
  t: RecoveryTarget,
  workers: PieceWorkers | 0,
): Promise<Manifest> {
  const say = opts.progress ?? (() => {});
  const ref = await findBackup(opts.storage, opts.backup, opts.systemId);
  const m = await readManifest(opts.storage, ref.systemId, ref.id);
  // A diff/incr backup whose reference was expired cannot be restored: say so before writing.
  await checkReferences(opts.storage, m);
  // Every tablespace target is checked before the data directory is touched.
  const spcs = await planTablespaces(m, opts.tablespaceMap ?? new Map(), opts.pgdata);
  await ensureEmptyDir(opts.pgdata);
  // The links first: the tablespaces' directories and files are written through them.
  await linkTablespaces(spcs, opts.pgdata);
  for (const t of spcs) say(`restore: tablespace ${t.oid}${t.name ? ` (${t.name})` : ''} into ${t.target}`);
  say(
    `restore: backup ${m.id} of system ${m.systemId} (${m.files.length} files, ${(m.totalSize / 1048576).toFixed(1)} MiB) into ${opts.pgdata}`,
  );
  for (const d of m.dirs)
    await fs.mkdir(path.join(opts.pgdata, d.path), { recursive: true, mode: d.mode || 0o700 });
  let done = 0;
  // Writeback starts as pieces and files land, overlapped with the transfer (durable.ts).
  const flusher = new Flusher(2, SMALL_FILE);
  await fetchBackupFiles(opts.storage, m, {
    pgdata: opts.pgdata,
    parallel: opts.parallel,
    workers,
    ...(opts.meter ? { meter: opts.meter } : {}),
    onFile: () => {
      done++;
    },
    onWritten: (d, fileSize) => flusher.file(d, fileSize),
  });
  await flusher.done();
  say(`restore: ${done}/${m.files.length} files verified`);
  await fs.writeFile(path.join(opts.pgdata, 'backup_label'), m.backupLabel, { mode: 0o600 });
  // PostgreSQL re-creates the links from tablespace_map when recovery starts: it must name the
  // restored locations, not the backed-up ones.
  const spcMap = spcs.length ? tablespaceMapFile(spcs) : m.tablespaceMap;
  if (spcMap) await fs.writeFile(path.join(opts.pgdata, 'tablespace_map'), spcMap, { mode: 0o600 });
  const lines = [
    '',
    `# added by skytools walmgr restore of backup ${m.id}`,
    `restore_command = ${confQuote(opts.restoreCommand)}`,
  ];
  lines.push(`recovery_target_timeline = 'latest'`);
  if (t.time) lines.push(`recovery_target_time = ${confQuote(t.time)}`);
  if (t.lsn) lines.push(`recovery_target_lsn = ${confQuote(t.lsn)}`);
  if (t.xid) lines.push(`recovery_target_xid = ${confQuote(t.xid)}`);
  if (t.time || t.lsn || t.xid) {
    lines.push(`recovery_target_action = ${confQuote(t.action ?? 'promote')}`);
    if (t.inclusive === false) lines.push(`recovery_target_inclusive = off`);
  }
  await fs.appendFile(path.join(opts.pgdata, 'postgresql.auto.conf'), `${lines.join('\n')}\n`, {
    mode: 0o600,
  });
  await fs.writeFile(path.join(opts.pgdata, opts.standby ? 'standby.signal' : 'recovery.signal'), '', {
    mode: 0o600,
  });
  // A stale restore spool from another restore must not feed this one.
  await fs.rm(path.join(opts.pgdata, DEFAULT_SPOOL), { recursive: true, force: true });
  // Last: everything above on stable storage before we report success (durable.ts).
  const synced = await syncRestored([opts.pgdata, ...spcs.map((s) => s.target)], opts.syncMethod);
  say(`restore: flushed to disk (${synced.method}, ${synced.filesystems} file system(s))`);
  say(
    `restore: done; start the server to replay WAL from ${m.startWal}${opts.standby ? ' as a standby' : ''}`,
  );
  return m;
}
