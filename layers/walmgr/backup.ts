// `walmgr backup`: a base backup of a running cluster. One connection runs
// pg_backup_start/pg_backup_stop (non-exclusive, so the backup is aborted by the server if
// we die); in between every file of PGDATA is uploaded, compressed and checksummed, several at
// a time. Files larger than the piece size are read and stored in pieces (each compressed and
// checksummed on its own) so a big relation file keeps every worker busy, on backup and on
// restore. The manifest goes last: a backup without one is incomplete and ignored.
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { Storage } from '../storage/types.ts';
import { waitForArchived } from './archive-wait.ts';
import { storeStopWal } from './backup-wal.ts';
import { BundleWriter } from './bundle.ts';
import { type Codec, compress, sha256 } from './codec.ts';
import { WalError } from './errors.ts';
import {
  type BackupType,
  changedPages,
  chooseReference,
  deltaBase,
  isRelationMainFork,
  namedPagesToRead,
  pageDelta,
  pageLsnRule,
  pageRuns,
  referencedBackups,
  unchangedByMtime,
} from './incremental.ts';
import { backupFileKey, manifestKey, pieceKey, walKey } from './layout.ts';
import {
  MANIFEST_FORMAT,
  MANIFEST_FORMAT_DELTAS,
  type Manifest,
  type ManifestFile,
  type ManifestPiece,
  type ManifestTablespace,
} from './manifest.ts';
import { noProgress, type Progress } from './progress.ts';
import { readAt } from './read-at.ts';
import { stageClock } from './stages.ts';
import { checkPrimary, freshRestartpoint, switchOnPrimary } from './standby-backup.ts';
import { fmtLsn, parseLsn, parseWalName, segmentName, segmentNumber } from './wal.ts';
import { HeldWal, type WalWindow, walWindow } from './wal-window.ts';

export interface BackupOptions {
  storage: Storage;
  client: pg.Client;
  /**
   * The primary, when `client` is a standby (standby-backup.ts): a fresh start point and the
   * stop segment archived at once. Optional: a standby backup works without it, only slower.
   */
  primary?: pg.Client;
  /** Defaults to the server's data_directory (the backup must run on the database host). */
  pgdata?: string;
  codec: Codec;
  parallel: number;
  /** Fast checkpoint at start (default true). */
  fast?: boolean;
  /** full (default), diff or incr (incremental.ts). */
  type?: BackupType;
  /** diff/incr: trust no mtime, compare every candidate file by SHA-256. */
  checksum?: boolean;
  /** Piece length for big files (default PIECE_SIZE; tests use small pieces). */
  pieceSize?: number;
  /** How long to wait for the backup's last WAL segment to reach storage (default 300 s). */
  archiveTimeoutMs?: number;
  progress?: (msg: string) => void;
  /** Files and bytes stored as they go (progress.ts), made once the backup id is known. */
  meter?: (id: string) => Progress;
}

// Contents not needed (or harmful) in a restored cluster, as the PostgreSQL docs list them.
const SKIP_CONTENTS = new Set([
  'pg_wal',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
  'pg_replslot',
]);
const SKIP_FILES = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'backup_label',
  'tablespace_map',
  'backup_manifest',
  'backup_label.old',
  'recovery.signal',
  'standby.signal',
]);
/**
 * Files larger than this are stored in pieces of this size (ManifestFile.pieces). 4 MiB, not
 * 16: an incremental after 1 % of the pages changed uploads 4× less per changed page (7.5–9.3 %
 * of the full backup's time, against 16–26 % with 16 MiB); a full restore costs the same CPU,
 * a full backup 6–12 % more (bench/README.md, session 8).
 */
export const PIECE_SIZE = 4 * 1024 * 1024;

async function openIfExists(file: string): Promise<fs.FileHandle | null> {
  try {
    return await fs.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

interface Walked {
  dirs: { path: string; mode: number }[];
  files: { path: string; size: number; mode: number; mtime: string }[];
  /** Tablespace links found in pg_tblspc. */
  links: { oid: number; location: string }[];
}

/**
 * Walks PGDATA. A symlink in pg_tblspc is a tablespace: it is recorded (OID, where it points)
 * and only its subdirectory of this server version (`PG_15_<catversion>`) is walked, as
 * pg_basebackup does; other version directories (left by pg_upgrade) belong to other servers.
 * Its files are listed under `pg_tblspc/<oid>/…`, so they are stored, fetched and verified
 * like every other file, and restore writes them through the re-created link.
 */
async function walk(pgdata: string, versionDir: string): Promise<Walked> {
  const out: Walked = { dirs: [], files: [], links: [] };
  // Synchronous calls: nothing else runs during the walk, and a stat through the thread pool
  // cost ~60 µs of round trip where the call itself takes a few (a cluster has thousands).
  const stat = (p: string) => {
    try {
      return fsSync.statSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // removed while we walk
      throw err;
    }
  };
  const visit = (rel: string): void => {
    const abs = path.join(pgdata, rel);
    const entries = fsSync.readdirSync(abs, { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.name.startsWith('pgsql_tmp') || e.name === 'pg_internal.init') continue;
      if (e.isSymbolicLink() && rel === 'pg_tblspc') {
        if (!/^\d+$/.test(e.name)) continue; // not a tablespace PostgreSQL would use
        const location = fsSync.readlinkSync(path.join(pgdata, r));
        out.links.push({ oid: Number(e.name), location });
        const vd = `${r}/${versionDir}`;
        const st = stat(path.join(pgdata, vd));
        if (st?.isDirectory()) {
          out.dirs.push({ path: vd, mode: st.mode & 0o7777 });
          visit(vd);
        }
        continue;
      }
      const st = stat(path.join(pgdata, r));
      if (!st) continue; // removed while we walk (e.g. a dropped table)
      if (st.isDirectory()) {
        out.dirs.push({ path: r, mode: st.mode & 0o7777 });
        if (!SKIP_CONTENTS.has(r)) visit(r);
        else if (r === 'pg_wal') {
          // Keep the directory structure PostgreSQL expects (archive_status, summaries).
          for (const sub of fsSync.readdirSync(path.join(pgdata, r), { withFileTypes: true })) {
            if (sub.isDirectory() && sub.name !== 'skytools_walmgr')
              out.dirs.push({ path: `${r}/${sub.name}`, mode: 0o700 });
          }
        }
      } else if (st.isFile() && !(rel === '' && SKIP_FILES.has(e.name))) {
        out.files.push({ path: r, size: st.size, mode: st.mode & 0o7777, mtime: st.mtime.toISOString() });
      }
    }
  };
  visit('');
  return out;
}

function backupId(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace('.', '')
    .replace(/(\d{8}T\d{6})(\d{3})Z/, '$1.$2Z');
}

export async function backup(opts: BackupOptions): Promise<Manifest> {
  const { client, storage } = opts;
  const say = opts.progress ?? (() => {});
  // performance.now() counts from the process's start: in the CLI, what its start cost.
  const sinceProcess = performance.now();
  const clock = stageClock();
  clock.begin('server + reference');
  const info = await client.query<{
    sysid: string;
    ver: string;
    datadir: string;
    segsize: string;
    catversion: string;
    blcksz: string;
    walblcksz: string;
    relseg: string;
    rec: boolean;
  }>(
    `select (select system_identifier::text from pg_control_system()) as sysid,
            pg_is_in_recovery() as rec,
            (select catalog_version_no::text from pg_control_system()) as catversion,
            current_setting('server_version_num') as ver,
            current_setting('block_size') as blcksz,
            current_setting('wal_block_size') as walblcksz,
            (select setting from pg_settings where name = 'segment_size') as relseg,
            current_setting('data_directory') as datadir,
            (select setting from pg_settings where name = 'wal_segment_size') as segsize`,
  );
  const row = info.rows[0]!;
  const pgVersion = Number(row.ver);
  if (pgVersion < 150000)
    throw new WalError(
      'invalid',
      `walmgr backup needs PostgreSQL 15 or later (pg_backup_start); server is ${row.ver}`,
    );
  const pgdata = opts.pgdata ?? row.datadir;
  const sysid = row.sysid;
  const segSize = Number(row.segsize);
  const startTime = new Date();
  const id = backupId(startTime);
  const fromStandby = row.rec;
  const { primary } = opts;
  say(`backup ${id}: starting (system ${sysid}, ${pgdata}${fromStandby ? ', from a standby' : ''})`);
  if (primary && !fromStandby)
    throw new WalError(
      'invalid',
      '--primary-db is only for a backup from a standby, and --db is not in recovery',
    );
  if (fromStandby && primary) {
    await checkPrimary(primary, sysid);
    if (opts.fast !== false && !(await freshRestartpoint(primary, client, 30_000)))
      say(
        `backup ${id}: the standby did not replay the primary's checkpoint within 30 s; starting from its last restartpoint`,
      );
  }
  const { ref, note } = await chooseReference(
    storage,
    sysid,
    opts.type ?? 'full',
    opts.codec,
    Boolean(opts.checksum),
  );
  if (note) say(`backup ${id}: ${note}`);
  const type: BackupType = ref ? (opts.type ?? 'full') : 'full';
  if (ref) say(`backup ${id}: ${type} against ${ref.manifest.id}`);
  // The reference's WAL still in pg_wal, held open before the start's checkpoint may remove it
  // (wal-window.ts); closed when this function returns or throws.
  using held =
    ref && type !== 'full' && !opts.checksum
      ? new HeldWal(pgdata, ref.manifest.timeline, parseLsn(ref.manifest.startLsn), segSize)
      : null;
  clock.begin(`pg_backup_start (${opts.fast !== false ? 'fast' : 'spread'} checkpoint)`);
  const started = await client.query<{ lsn: string; tli: number }>(
    `select pg_backup_start($1, $2)::text as lsn, (select timeline_id from pg_control_checkpoint()) as tli`,
    [`skytools walmgr ${id}`, opts.fast !== false],
  );
  // The start point's timeline and LSN: whether page LSNs compare with the reference's.
  const lsnRule = pageLsnRule(
    ref,
    Number(started.rows[0]!.tli),
    parseLsn(started.rows[0]!.lsn),
    Number(row.blcksz),
  );
  const versionDir = `PG_${Math.floor(pgVersion / 10000)}_${row.catversion}`;
  clock.begin('walk');
  const walked = await walk(pgdata, versionDir);
  const tablespaces = await describeTablespaces(client, walked.links);
  const total = walked.files.reduce((s, f) => s + f.size, 0);
  const meter = opts.meter?.(id) ?? noProgress;
  meter.start(walked.files.length, total);
  const files: ManifestFile[] = [];
  // Work items: whole small files, and the pieces of big ones (see ManifestFile.pieces).
  // A diff/incr keeps its reference's piece size unless told otherwise: pieces are compared
  // with the reference's one for one, and another size would upload every big file again.
  const pieceSize = opts.pieceSize ?? ref?.manifest.pieceSize ?? PIECE_SIZE;
  type Big = {
    f: Walked['files'][number];
    fh: Promise<fs.FileHandle | null>;
    left: number;
    pieces: ManifestPiece[];
    /** The reference's pieces of this file, when their piece size is ours. */
    prior?: ManifestPiece[];
    /** A relation main fork: pieces whose pages all predate the reference are not hashed. */
    byLsn: boolean;
    /**
     * A relation main fork while the WAL since the reference is being read: its changed pages
     * (`window`), once known, say which pieces to read.
     */
    walCandidate: boolean;
  };
  type Job = { f: Walked['files'][number]; big?: Big; n?: number };
  const jobs: Job[] = [];
  const waitingJobs: Job[] = [];
  const samePieces = ref !== null && ref.manifest.pieceSize === pieceSize;
  // The WAL since the reference says which pieces of relation files changed (wal-window.ts):
  // the others are referred to without being read. It is read while the files that do not
  // depend on it are stored (they are queued first), and the held segments closed once read.
  let window: Promise<WalWindow | null> | null = null;
  if (ref && lsnRule && samePieces) {
    const candidateBytes = walked.files.reduce((sum, f) => {
      const prior = ref.files.get(f.path);
      const read =
        f.size > pieceSize && isRelationMainFork(f.path) && prior?.pieces && !unchangedByMtime(ref, prior, f);
      return read ? sum + f.size : sum;
    }, 0);
    if (candidateBytes > 0) {
      const began = performance.now();
      window = walWindow({
        held,
        pgdata,
        storage,
        sysid,
        timeline: Number(started.rows[0]!.tli),
        from: lsnRule.before,
        to: parseLsn(started.rows[0]!.lsn),
        segSize,
        walPageSize: Number(row.walblcksz),
        segBlocks: Number(row.relseg),
        blockSize: Number(row.blcksz),
        pieceSize,
        versionDir,
        candidateBytes,
      }).then(
        (w) => {
          held?.close(); // read: no need to keep the files
          clock.aside('WAL since the reference', performance.now() - began);
          say(`backup ${id}: ${w.note}`);
          return w.window;
        },
        (err: unknown) => {
          held?.close();
          throw err;
        },
      );
      window.catch(() => {}); // surfaces where it is awaited (every piece that needs it, and below)
    }
  }
  let reused = 0;
  /** Of `reused`: pieces taken as unchanged by their pages' LSNs, without hashing. */
  let byLsn = 0;
  /** Of `byLsn`: pieces the WAL since the reference names no page of, not even read. */
  let byWal = 0;
  /** Pieces stored as their changed pages only (counted in `reused` for the pages left out). */
  let deltaPieces = 0;
  for (const f of walked.files) {
    const prior = ref?.files.get(f.path);
    // Unchanged by size + mtime: referenced without reading (incremental.ts says when that is sound).
    if (ref && unchangedByMtime(ref, prior, f) && (!prior.pieces || samePieces)) {
      files.push({ ...prior, mode: f.mode });
      reused += f.size;
      meter.add(f.size, true);
      continue;
    }
    if (f.size <= pieceSize) {
      jobs.push({ f });
      continue;
    }
    const count = Math.ceil(f.size / pieceSize);
    const big: Big = {
      f,
      fh: openIfExists(path.join(pgdata, f.path)),
      left: count,
      pieces: [],
      ...(prior?.pieces && samePieces ? { prior: prior.pieces } : {}),
      byLsn: lsnRule !== null && isRelationMainFork(f.path),
      walCandidate: window !== null && isRelationMainFork(f.path),
    };
    // Errors surface in the worker that awaits it; never as an unhandled rejection.
    big.fh.catch(() => {});
    for (let n = 0; n < count; n++) {
      // Only a piece with a reference copy of its length asks the WAL (storePiece).
      const asksWal =
        big.walCandidate && big.prior?.[n]?.size === Math.min(pieceSize, f.size - n * pieceSize);
      (asksWal ? waitingJobs : jobs).push({ f, big, n });
    }
  }
  // Pieces the WAL may leave unread go last: the others need not wait for it.
  jobs.push(...waitingJobs);
  const storePiece = async (big: Big, n: number, scratch: { buf: Buffer }) => {
    const fh = await big.fh;
    if (!fh) {
      meter.add(0, --big.left === 0);
      return; // dropped before we opened it; WAL replay drops it too
    }
    // Exactly the walk-time length, zero-padded if the file shrank meanwhile (as
    // pg_basebackup does): a torn or truncated relation file is fixed by WAL replay.
    const len = Math.min(pieceSize, big.f.size - n * pieceSize);
    const was = big.prior?.[n]?.size === len ? big.prior[n] : undefined;
    const w = was && big.byLsn && big.walCandidate ? await window : null;
    const walPages = w && !w.whole(big.f.path) ? w.pages(big.f.path, n) : null;
    if (was && walPages?.length === 0) {
      // No record since the reference began names a page of it (wal-window.ts): not even read.
      big.pieces[n] = was;
      reused += len;
      byLsn += len;
      byWal += len;
      await pieceDone(big, len, fh);
      return;
    }
    // One buffer per worker, reused (compress is done with it before the next read): a fresh
    // zeroed 16 MiB per piece was a tenth of an incremental backup's CPU.
    if (scratch.buf.length < len) scratch.buf = Buffer.allocUnsafe(pieceSize);
    const toRead = was && walPages ? namedPagesToRead(walPages, was, len, lsnRule!.blockSize) : null;
    if (toRead) {
      await storeNamedPages(big, n, fh, was as ManifestPiece & { ref: string }, toRead, scratch.buf);
      await pieceDone(big, len, fh);
      return;
    }
    const data = scratch.buf.subarray(0, len);
    const got = await readAt(fh, data, len, n * pieceSize);
    data.fill(0, got); // what a shrunk file no longer has is zero
    // The pages that may differ from the reference's copy (incremental.ts): none → that copy.
    // With the WAL's map, the pages its records name and those the page-LSN rule cannot vouch
    // for; without it, the rule alone, which then also counts every all-visible page (marking
    // one moves no LSN unless hints are WAL-logged).
    const changed =
      was && big.byLsn
        ? changedPages(data, lsnRule!.blockSize, lsnRule!.before, walPages === null, walPages)
        : null;
    if (was && changed?.length === 0) {
      big.pieces[n] = was; // no page changed since the reference started (incremental.ts)
      reused += len;
      byLsn += len;
    } else {
      const sum = sha256(data);
      // The reference's pieces have `ref` resolved (chooseReference): the base a delta names.
      const delta =
        was && changed && was.sha256 !== sum
          ? pageDelta(data, was as ManifestPiece & { ref: string }, changed, lsnRule!.blockSize)
          : null;
      if (was?.sha256 === sum) {
        big.pieces[n] = was; // same bytes as the reference's piece: refer to it
        reused += len;
      } else if (delta) {
        // Only the changed pages, over the base piece of an earlier backup (incremental.ts).
        const body = await compress(opts.codec, delta.body, { checksum: true });
        const storedSha256 = sha256(body);
        await storage.put(pieceKey(backupFileKey(sysid, id, big.f.path), n), body, { metadata });
        big.pieces[n] = { size: len, storedSize: body.length, sha256: sum, storedSha256, pages: delta.pages };
        reused += len - delta.body.length;
        deltaPieces++;
      } else {
        const body = await compress(opts.codec, data, { checksum: true });
        const storedSha256 = sha256(body);
        await storage.put(pieceKey(backupFileKey(sysid, id, big.f.path), n), body, { metadata });
        big.pieces[n] = { size: len, storedSize: body.length, sha256: sum, storedSha256 };
      }
    }
    await pieceDone(big, len, fh);
  };
  /** One more piece of `big` stored or referred to; the file's entry once it was the last. */
  const pieceDone = async (big: Big, len: number, fh: fs.FileHandle) => {
    const last = --big.left === 0;
    meter.add(len, last);
    if (last) await finishBig(big, fh);
  };
  /**
   * A piece the WAL names some pages of, stored as a page delta from those pages alone
   * (namedPagesToRead): the rest of it is not read. Its `sha256` is '' — the whole piece was not
   * read to hash — so a later backup stores its delta again rather than compare bytes; restore
   * checks the delta by its stored checksum and the base by its own, as for every delta.
   */
  const storeNamedPages = async (
    big: Big,
    n: number,
    fh: fs.FileHandle,
    was: ManifestPiece & { ref: string },
    pages: number[],
    buf: Buffer,
  ): Promise<void> => {
    const bs = lsnRule!.blockSize;
    const len = was.size;
    const runs = pageRuns(pages);
    let at = 0;
    for (const [first, count] of runs) {
      const want = count * bs;
      const got = await readAt(fh, buf.subarray(at, at + want), want, n * pieceSize + first * bs);
      buf.fill(0, at + got, at + want); // past a file that shrank meanwhile: zero, as a whole read has it
      at += want;
    }
    // Every page a record names is stored, whatever its LSN: marking a page all-visible sets its
    // flag without moving the LSN (unless hints are WAL-logged), and a page that lost that flag
    // under a visibility map that has the bit would keep the bit through later writes.
    const unread = len - pages.length * bs;
    byLsn += unread;
    byWal += unread;
    const body = await compress(opts.codec, buf.subarray(0, pages.length * bs), { checksum: true });
    const storedSha256 = sha256(body);
    await storage.put(pieceKey(backupFileKey(sysid, id, big.f.path), n), body, { metadata });
    big.pieces[n] = {
      size: len,
      storedSize: body.length,
      sha256: '',
      storedSha256,
      pages: { base: deltaBase(was), blockSize: bs, runs },
    };
    reused += unread;
    deltaPieces++;
  };
  const finishBig = async (big: Big, fh: fs.FileHandle) => {
    await fh.close();
    files.push({
      path: big.f.path,
      size: big.f.size,
      sha256: '',
      mode: big.f.mode,
      mtime: big.f.mtime,
      storedSize: big.pieces.reduce((t, p) => t + p.storedSize, 0),
      pieces: big.pieces,
    });
  };
  const metadata = { compression: opts.codec };
  // Small files go into bundles (bundle.ts): a few objects instead of one per file.
  const bundles = new BundleWriter(storage, sysid, id, metadata);
  let next = 0;
  const worker = async () => {
    const scratch = { buf: Buffer.alloc(0) };
    while (next < jobs.length) {
      const job = jobs[next++]!;
      if (job.big) {
        await storePiece(job.big, job.n!, scratch);
        continue;
      }
      const f = job.f;
      const data = await fs.readFile(path.join(pgdata, f.path)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null; // dropped during the backup; WAL replay removes it too
        throw err;
      });
      if (!data) {
        meter.add(0, true);
        continue;
      }
      const sum = sha256(data);
      const prior = ref?.files.get(f.path);
      if (prior && !prior.pieces && prior.size === data.length && prior.sha256 === sum) {
        // Same bytes as in the reference (an mtime we could not trust): refer to it.
        files.push({ ...prior, mode: f.mode, mtime: f.mtime });
        reused += data.length;
        meter.add(data.length, true);
        continue;
      }
      const body = await compress(opts.codec, data, { checksum: true });
      const storedSum = sha256(body);
      const bundle = BundleWriter.takes(body.length) ? await bundles.add(body) : null;
      if (!bundle) await storage.put(backupFileKey(sysid, id, f.path), body, { metadata });
      meter.add(data.length, true);
      files.push({
        path: f.path,
        size: data.length,
        sha256: sum,
        mode: f.mode,
        mtime: f.mtime,
        storedSize: body.length,
        storedSha256: storedSum,
        ...(bundle ? { bundle } : {}),
      });
    }
  };
  clock.begin('files');
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel) }, worker));
  await window; // read and closed even if no piece came to need it (its error surfaces here)
  await bundles.finish();
  meter.finish();
  say(`backup ${id}: files stored; stopping backup`);
  clock.begin('pg_backup_stop');
  // Not pg_backup_stop(true): the server would wait for archiving without limit and without
  // telling why. We wait for the WAL object in *our* storage instead (the backup is only
  // usable once it is there), with a deadline and the archiver's failures in the progress.
  const stop = await client.query<{ lsn: string; labelfile: string; spcmapfile: string }>(
    'select lsn::text, labelfile, spcmapfile from pg_backup_stop(false)',
  );
  const { lsn: stopLsn, labelfile, spcmapfile } = stop.rows[0]!;
  const startM = /START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+) \(file ([0-9A-F]{24})\)/.exec(labelfile);
  const tliM = /START TIMELINE: (\d+)/.exec(labelfile);
  if (!startM || !tliM)
    throw new WalError('invalid', `unexpected backup label from the server:\n${labelfile}`);
  const timeline = Number(tliM[1]);
  const stopSeg = (parseLsn(stopLsn) - 1n) / BigInt(segSize);
  const stopWal = segmentName(timeline, stopSeg, segSize);
  if (fromStandby && primary) await switchOnPrimary(primary);
  else if (fromStandby)
    say(
      `backup ${id}: from a standby without --primary-db: waiting for the primary to complete and archive ${stopWal} (at its archive_timeout or when it fills)`,
    );
  clock.begin('WAL wait');
  // The archiver that stores the stop segment is the primary's (a standby archives nothing
  // unless archive_mode=always): its statistics say why a wait is stuck.
  // One deadline for every wait of this stage, as --archive-timeout says.
  const waitStarted = Date.now();
  const timeoutMs = opts.archiveTimeoutMs ?? 300_000;
  const deadline = waitStarted + timeoutMs;
  const waitFor = (name: string) =>
    waitForArchived(
      storage,
      primary ?? client,
      walKey(sysid, parseWalName(name)),
      timeoutMs,
      (m) => say(`backup ${id}: ${m}`),
      undefined,
      waitStarted,
    );
  // On a primary the stop segment is stored by this process once it is complete (backup-wal.ts);
  // the segments before it are the archiver's, which archives in order.
  const startSeg = segmentNumber(startM[2]!, segSize);
  if (!fromStandby && startSeg < stopSeg) await waitFor(segmentName(timeline, stopSeg - 1n, segSize));
  const storedOwn =
    !fromStandby &&
    (await storeStopWal({
      storage,
      client,
      pgdata,
      sysid,
      codec: opts.codec,
      stopWal,
      deadline,
    }));
  if (storedOwn) say(`backup ${id}: stored WAL ${stopWal} itself`);
  else await waitFor(stopWal);
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  const references = referencedBackups({ id, files });
  // Only what this backup stored itself: referenced objects count for their own backup.
  const own = (f: ManifestFile) =>
    f.pieces ? f.pieces.reduce((t, p) => t + (p.ref ? 0 : p.storedSize), 0) : f.ref ? 0 : f.storedSize;
  const manifest: Manifest = {
    format: deltaPieces > 0 ? MANIFEST_FORMAT_DELTAS : MANIFEST_FORMAT,
    id,
    ...(type !== 'full' && ref ? { type, reference: ref.manifest.id, references } : {}),
    systemId: sysid,
    pgVersion,
    timeline,
    walSegmentSize: segSize,
    startLsn: startM[1]!,
    stopLsn: fmtLsn(parseLsn(stopLsn)),
    startWal: startM[2]!,
    stopWal,
    startTime: startTime.toISOString(),
    stopTime: new Date().toISOString(),
    codec: opts.codec,
    ...(files.some((f) => f.pieces) ? { pieceSize } : {}),
    ...(tablespaces.length ? { tablespaces } : {}),
    ...(fromStandby ? { fromStandby } : {}),
    backupLabel: labelfile,
    tablespaceMap: spcmapfile ?? '',
    dirs: walked.dirs,
    files,
    totalSize: files.reduce((s, f) => s + f.size, 0),
    storedSize: files.reduce((s, f) => s + own(f), 0),
  };
  clock.begin('manifest');
  await storage.put(manifestKey(sysid, id), Buffer.from(JSON.stringify(manifest, null, 1)), {
    ifAbsent: true,
  });
  clock.end();
  if (ref)
    say(
      `backup ${id}: ${(reused / 1048576).toFixed(1)} MiB unchanged since ${ref.manifest.id} (${(byLsn / 1048576).toFixed(1)} MiB of it by page LSN${byWal ? `, ${(byWal / 1048576).toFixed(1)} MiB of that by the WAL's block references, not read` : ''}), referred to from ${references.length} backup(s); ${deltaPieces} piece(s) stored as their changed pages`,
    );
  say(
    `backup ${id}: done, ${files.length} files, ${(manifest.totalSize / 1048576).toFixed(1)} MiB (${(manifest.storedSize / 1048576).toFixed(1)} MiB stored), WAL ${manifest.startWal}..${manifest.stopWal}`,
  );
  say(
    `backup ${id}: stages: ${clock.summary()}; began ${(sinceProcess / 1000).toFixed(2)} s after this process started`,
  );
  return manifest;
}

/** Names the tablespace links from the catalog (restore's --tablespace-map accepts either). */
async function describeTablespaces(client: pg.Client, links: Walked['links']): Promise<ManifestTablespace[]> {
  if (links.length === 0) return [];
  const r = await client.query<{ oid: string; name: string }>(
    'select oid::text as oid, spcname as name from pg_tablespace where oid = any($1::oid[])',
    [links.map((l) => l.oid)],
  );
  const names = new Map(r.rows.map((x) => [Number(x.oid), x.name]));
  return links
    .map((l) => ({ oid: l.oid, name: names.get(l.oid) ?? '', location: l.location }))
    .sort((a, b) => a.oid - b.oid);
}
