// `walmgr archive %p %f`: stores one WAL file. With `--ahead`, the next `.ready` files are
// stored by a background process (`archiveAhead`, `walmgr archive-ahead`), started by the first
// call that sees a backlog, which keeps `--parallel` uploads going in `.ready` order and leaves
// a marker for each file once it is stored, so the calls for them return at once (spool.ts,
// archive-fast.sh) — the archiver's queue moves while the uploads go on, as with pgBackRest's
// archive-async. Success is reported only for a file whose object is durable in storage with
// the same SHA-256: an object that exists with other content is refused, never overwritten.
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Storage } from '../storage/types.ts';
import { processAlive } from '../util/pidfile.ts';
import { type Codec, compress, sha256 } from './codec.ts';
import { WalError } from './errors.ts';
import { META, walKey } from './layout.ts';
import { readAt } from './read-at.ts';
import {
  aheadErrorPath,
  aheadLockPath,
  consumeMarker,
  dirWaiter,
  fileStamp,
  markerPath,
  writeMarker,
} from './spool.ts';
import { checkSegment, parseWalName, readSystemId, type WalName } from './wal.ts';

export interface ArchiveOptions {
  storage: Storage;
  /** %p: path of the WAL file, relative to pgdata or absolute. */
  walPath: string;
  /** %f: its file name. */
  walName: string;
  /** Cluster data directory (archive_command runs there). */
  pgdata: string;
  /** Spool directory (absolute). */
  spool: string;
  codec: Codec;
  /** Concurrent uploads. */
  parallel: number;
  /** How many further .ready files may be stored ahead of the archiver (0: only %f). */
  ahead: number;
  /**
   * Starts the background `archive-ahead` process (skipping %f, which this call stores) and
   * returns its pid; called when other `.ready` files wait and none runs.
   */
  startAhead?: () => Promise<number | undefined>;
  log?: (msg: string) => void;
}

export interface ArchiveResult {
  status: 'stored' | 'already';
  /** True when this call started the background process for the files after %f. */
  aheadStarted: boolean;
}

export type StoreStatus = 'stored' | 'already';

/**
 * One reusable buffer per upload worker: a fresh 16 MiB allocation per segment is what
 * drove the archiver's garbage collections (V8 collects on external-memory growth).
 * The contents are valid until the next read.
 */
export class ReadBuffer {
  private buf = Buffer.alloc(0);
  async read(file: string): Promise<Buffer> {
    const fh = await fs.open(file, 'r');
    try {
      const { size } = await fh.stat();
      if (this.buf.length < size) this.buf = Buffer.allocUnsafe(size);
      return this.buf.subarray(0, await readAt(fh, this.buf, size, 0));
    } finally {
      await fh.close();
    }
  }
}

/** Validates, compresses and stores one WAL file. */
export async function storeWalFile(
  storage: Storage,
  file: string,
  wal: WalName,
  sysid: string,
  codec: Codec,
  afterUpload?: () => void,
  scratch?: ReadBuffer,
): Promise<StoreStatus> {
  let data: Buffer;
  try {
    data = scratch ? await scratch.read(file) : await fs.readFile(file);
  } catch (err) {
    throw new WalError('io', `cannot read WAL file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (wal.kind === 'segment' || wal.kind === 'partial') checkSegment(data, wal, sysid);
  else if (data.length === 0) throw new WalError('corrupt', `${wal.kind} file ${file} is empty`);
  const sum = sha256(data);
  const key = walKey(sysid, wal);
  const compare = async (): Promise<StoreStatus | null> => {
    const existing = await storage.head(key);
    if (!existing) return null;
    if (existing.metadata[META.sha256] === sum) return 'already';
    throw new WalError(
      'refused',
      `refusing to overwrite ${key} in ${storage.description}: the stored ${wal.name} has SHA-256 ${existing.metadata[META.sha256] ?? '(none)'} but the local file has ${sum}. ` +
        'Two clusters may share this repository/system id, or the file was changed; investigate before archiving resumes (do not delete the stored object blindly)',
    );
  };
  // The HEAD overlaps the compression (on zlib's threads): a round trip less per segment on
  // the common path; only an object stored already wastes its compression.
  const [before, body] = await Promise.all([compare(), compress(codec, data)]);
  if (before) return before;
  const res = await storage.put(key, body, {
    ifAbsent: true,
    metadata: {
      [META.sha256]: sum,
      [META.size]: String(data.length),
      [META.codec]: codec,
      [META.sysid]: sysid,
      [META.name]: wal.name,
    },
  });
  if (res === 'exists') {
    // Someone stored it between our check and our write.
    const after = await compare();
    if (after) return after;
  }
  afterUpload?.();
  return 'stored';
}

function readyOrder(a: string, b: string): number {
  // History files first (PostgreSQL archives them first too), then by name = WAL order.
  const ha = a.endsWith('.history') ? 0 : 1;
  const hb = b.endsWith('.history') ? 0 : 1;
  return ha - hb || (a < b ? -1 : a > b ? 1 : 0);
}

export async function archiveWal(opts: ArchiveOptions): Promise<ArchiveResult> {
  const wal = parseWalName(opts.walName);
  const walFile = path.resolve(opts.pgdata, opts.walPath);
  const sysidOf = sysidReader(opts.pgdata);
  const fault = process.env.SKYTOOLS_WALMGR_FAULT;
  // A failure of the background process for %f is reported by this call, which stores it anew.
  await fs.rm(aheadErrorPath(opts.spool, wal.name), { force: true });

  let aheadStarted = false;
  if (opts.ahead > 0 && opts.startAhead && !aheadRunning(opts.spool)) {
    const statusDir = path.join(path.dirname(walFile), 'archive_status');
    const names = await fs.readdir(statusDir).catch(() => [] as string[]);
    // Started before %f is stored, so its Node start overlaps this upload.
    if (names.some((n) => n.endsWith('.ready') && n !== `${wal.name}.ready`)) {
      const pid = await opts.startAhead();
      if (pid) aheadStarted = claimAheadLock(opts.spool, pid, wal.name);
    }
  }
  const sysid = await sysidOf(walFile, wal);
  const status = await storeWalFile(
    opts.storage,
    walFile,
    wal,
    sysid,
    opts.codec,
    () => {
      if (fault === 'crash-after-upload') process.kill(process.pid, 'SIGKILL');
    },
    new ReadBuffer(),
  );
  return { status, aheadStarted };
}

/** Reads the system id for a WAL file: pg_control's, else (a segment) its page header's. */
function sysidReader(pgdata: string) {
  const controlSysid = readSystemId(pgdata);
  return async (file: string, w: WalName): Promise<string> => {
    if (w.kind === 'segment' || w.kind === 'partial') {
      if (controlSysid) return controlSysid; // checkSegment() then compares it with the page header
      const fh = await fs.open(file, 'r').catch((err: Error) => {
        throw new WalError(
          'io',
          `cannot open WAL file ${file}: ${err.message}; archive_command must run in the data directory (or pass --pgdata)`,
          { cause: err },
        );
      });
      try {
        const head = Buffer.alloc(40);
        await fh.read(head, 0, 40, 0);
        return head.readBigUInt64LE(24).toString();
      } finally {
        await fh.close();
      }
    }
    if (!controlSysid) {
      throw new WalError(
        'invalid',
        `cannot read the system identifier from ${path.join(pgdata, 'global/pg_control')}; run in PGDATA or pass --pgdata`,
      );
    }
    return controlSysid;
  };
}

/** The background process's lock: "<pid>\n<the file its starter stores itself>\n". */
function readAheadLock(spool: string): { pid: number; skip: string } | null {
  try {
    const [pid, skip] = fsSync.readFileSync(aheadLockPath(spool), 'utf8').split('\n');
    return { pid: Number(pid), skip: skip ?? '' };
  } catch {
    return null;
  }
}

/** True while a background archive-ahead process holds the lock (archive-fast.sh: `kill -0`). */
export function aheadRunning(spool: string): boolean {
  const l = readAheadLock(spool);
  return Boolean(l && processAlive(l.pid));
}

/**
 * The bare `walmgr archive %p %f` (archive_command without archive-fast.sh) for a file the
 * background archive-ahead process may be storing right now: waits, as archive-fast.sh does,
 * until its marker comes (true: stored, the marker consumed), it fails there (an `.error`
 * note), the process is gone or this call is the one its starter stores itself, or `ms`
 * passes (false: store it here). Without the wait both would upload the same file.
 */
export async function waitForAhead(
  spool: string,
  walName: string,
  walPath: string,
  ms = 30_000,
): Promise<boolean> {
  const busy = () => {
    const l = readAheadLock(spool);
    return Boolean(l && l.skip !== walName && processAlive(l.pid));
  };
  if (!busy()) return false;
  const dir = path.dirname(markerPath(spool, walName));
  const waiter = dirWaiter(dir);
  try {
    const end = performance.now() + ms;
    for (;;) {
      if (consumeMarker(spool, walName, walPath)) return true;
      if (fsSync.existsSync(aheadErrorPath(spool, walName))) return false;
      if (!busy() || performance.now() >= end) return consumeMarker(spool, walName, walPath);
      // The marker's rename wakes this through inotify; the timeout covers a missed event and
      // the process dying without a word.
      await waiter.wait(100);
    }
  } finally {
    waiter.close();
  }
}

/**
 * Written by the starter for the process it spawned (so the next archive_command call, often
 * sooner than the child's Node start, waits for it instead of uploading itself); false when
 * another one holds the lock (the new one then finds it and exits).
 */
function claimAheadLock(spool: string, pid: number, skip: string): boolean {
  const lock = aheadLockPath(spool);
  fsSync.mkdirSync(path.dirname(lock), { recursive: true });
  for (let i = 0; i < 2; i++) {
    try {
      fsSync.writeFileSync(lock, `${pid}\n${skip}\n`, { flag: 'wx', mode: 0o600 });
      return true;
    } catch {
      const l = readAheadLock(spool);
      if (l && processAlive(l.pid)) return l.pid === pid;
      fsSync.rmSync(lock, { force: true }); // a dead process's
    }
  }
  return false;
}

export interface ArchiveAheadOptions {
  storage: Storage;
  pgdata: string;
  /** The directory of the WAL files (pg_wal), holding archive_status/. */
  walDir: string;
  spool: string;
  codec: Codec;
  parallel: number;
  /** At most this many of the oldest `.ready` files are stored ahead of the archiver. */
  ahead: number;
  /** Stored by the call that started this process: never by it. */
  skip?: string;
  /** Exits once nothing was left to store for this long. */
  idleMs?: number;
  log?: (msg: string) => void;
}

/**
 * `walmgr archive-ahead` (background, one per spool): stores the oldest `.ready` files (up to
 * `ahead`, in the archiver's order) with `parallel` uploads, each slot taking the next file as
 * soon as it is free, and writes each file's marker only once its object is durable with the
 * same SHA-256. A file that fails is not retried here: its marker never comes, an error note
 * (`<spool>/archive/<name>.error`) tells the waiting archive-fast.sh to run `walmgr archive`,
 * which stores it or reports why. Killed at any step, a file without its marker is stored again
 * (or found stored) by its own call: nothing is reported archived before it is.
 */
export async function archiveAhead(opts: ArchiveAheadOptions): Promise<{ stored: number }> {
  const lock = aheadLockPath(opts.spool);
  await fs.mkdir(path.dirname(markerPath(opts.spool, 'x')), { recursive: true });
  const mine = readAheadLock(opts.spool);
  if (mine?.pid !== process.pid && !claimAheadLock(opts.spool, process.pid, opts.skip ?? ''))
    return { stored: 0 };
  const fault = process.env.SKYTOOLS_WALMGR_FAULT;
  const sysidOf = sysidReader(opts.pgdata);
  const statusDir = path.join(opts.walDir, 'archive_status');
  const done = new Set<string>(opts.skip ? [opts.skip] : []);
  const failed = new Set<string>();
  const inFlight = new Set<string>();
  let window: string[] = [];
  let lastLook = 0;
  let lastWork = Date.now();
  let stored = 0;
  const idleMs = opts.idleMs ?? 3_000;
  // One listing of archive_status serves every slot that asks within 20 ms.
  const look = async () => {
    if (Date.now() - lastLook < 20) return;
    lastLook = Date.now();
    const names = await fs.readdir(statusDir).catch(() => [] as string[]);
    window = names
      .filter((n) => n.endsWith('.ready'))
      .map((n) => n.slice(0, -'.ready'.length))
      .sort(readyOrder)
      .slice(0, opts.ahead);
  };
  const pick = (): string | undefined =>
    window.find(
      (n) =>
        !done.has(n) && !failed.has(n) && !inFlight.has(n) && !fsSync.existsSync(markerPath(opts.spool, n)),
    );
  const slot = async () => {
    const scratch = new ReadBuffer();
    for (;;) {
      await look();
      const name = pick();
      if (!name) {
        if (inFlight.size === 0 && Date.now() - lastWork >= idleMs) return;
        // The archiver marking a file done (.ready → .done) or a new .ready wakes the slot.
        await changes.wait(250);
        lastLook = 0;
        continue;
      }
      inFlight.add(name);
      const file = path.join(opts.walDir, name);
      try {
        const w = parseWalName(name);
        const st = await fs.stat(file);
        await storeWalFile(
          opts.storage,
          file,
          w,
          await sysidOf(file, w),
          opts.codec,
          () => {
            if (fault === 'crash-ahead-after-upload') process.kill(process.pid, 'SIGKILL');
          },
          scratch,
        );
        await writeMarker(opts.spool, name, fileStamp(st), { key: name, at: new Date().toISOString() });
        await fs.rm(aheadErrorPath(opts.spool, name), { force: true });
        done.add(name);
        stored++;
      } catch (err) {
        failed.add(name);
        const msg = (err as Error).message;
        opts.log?.(`archive ahead of ${name} failed (its own call stores it or reports why): ${msg}`);
        await fs.writeFile(aheadErrorPath(opts.spool, name), `${msg}\n`).catch(() => {});
      } finally {
        inFlight.delete(name);
        lastWork = Date.now();
        await fs.utimes(lock, new Date(), new Date()).catch(() => {});
      }
    }
  };
  const changes = dirWaiter(statusDir);
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.parallel) }, slot));
  } finally {
    changes.close();
    if (readAheadLock(opts.spool)?.pid === process.pid) await fs.rm(lock, { force: true });
  }
  return { stored };
}
