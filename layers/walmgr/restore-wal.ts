// `walmgr restore-wal %f %p` for restore_command: fetch, verify (SHA-256 of the uncompressed
// bytes, the segment's own page header), decompress, write atomically. The next segments are
// prefetched in parallel into the spool, already verified, so the following calls only rename.
import { createHash, randomBytes } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Storage } from '../storage/types.ts';
import { processAlive } from '../util/pidfile.ts';
import { Decompressor, decompress, sha256 } from './codec.ts';
import { WalError } from './errors.ts';
import { META, walKey } from './layout.ts';
import { requireRepository } from './repository.ts';
import { dirWaiter, restoreSpoolPath } from './spool.ts';
import {
  checkSegment,
  checkSegmentHead,
  parseWalName,
  segmentName,
  segmentNumber,
  type WalName,
} from './wal.ts';

/** What fetchWal reads through: a Storage, or the SDK-less getter of a short-lived process. */
export type WalSource = Pick<Storage, 'get' | 'description'>;

export interface RestoreWalOptions {
  /** Opened only when needed: a segment served from the spool with a full window needs none. */
  storage: () => Promise<Storage>;
  /**
   * Where segments are fetched from, when other than `storage` (restore-wal: GETs without the
   * AWS SDK, layers/storage/s3-get.ts). `storage` then serves only the rare calls: the marker
   * check of a miss and the `.partial` listing.
   */
  getter?: () => Promise<WalSource>;
  walName: string;
  /** %p: destination, relative to pgdata or absolute. */
  destPath: string;
  pgdata: string;
  sysid: string;
  spool: string;
  /** Segments to fetch ahead (0: none). */
  prefetch: number;
  parallel: number;
  /**
   * For a segment not in the archive, serve its `.partial` (uploaded by `walmgr stream`)
   * instead — only when it is the newest WAL of its timeline in the archive. Off by default:
   * a partial served as a complete segment hides lost WAL unless it is the very end.
   */
  usePartial?: boolean;
  log?: (msg: string) => void;
}

/** What archive stored with a WAL object; an object without it was not written by walmgr archive. */
function walMeta(key: string, meta: Record<string, string>, where: string) {
  const codec = meta[META.codec];
  const sum = meta[META.sha256];
  if (!codec || !sum) {
    throw new WalError(
      'corrupt',
      `${key} in ${where} has no checksum/compression metadata; it was not written by walmgr archive`,
    );
  }
  // The archived size lets an output be sized once; a wrong value only costs speed.
  const size = Number(meta[META.size]);
  return { codec, sum, size: size > 0 && size <= 1 << 30 ? size : undefined };
}

function checkSum(key: string, where: string, sum: string, archived: string): void {
  if (sum !== archived)
    throw new WalError(
      'corrupt',
      `${key} in ${where} is corrupt: SHA-256 of its content is ${sum}, archived as ${archived}. Recovery stops here; restore this file from another copy or recover to an earlier target`,
    );
}

/** Runs a check of the content, naming the object in what it throws. */
function named<T>(key: string, where: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw new WalError('corrupt', `${key} in ${where}: ${(err as Error).message}`, { cause: err });
  }
}

/** Fetches and verifies one WAL file; null when it is not in the archive. */
export async function fetchWal(storage: WalSource, sysid: string, wal: WalName): Promise<Buffer | null> {
  const key = walKey(sysid, wal);
  const obj = await storage.get(key);
  if (!obj) return null;
  const where = storage.description;
  const m = walMeta(key, obj.info.metadata, where);
  const data = await decompress(m.codec, obj.body, m.size).catch((err: Error) =>
    named(key, where, () => {
      throw err;
    }),
  );
  checkSum(key, where, sha256(data), m.sum);
  if (wal.kind === 'segment' || wal.kind === 'partial')
    named(key, where, () => checkSegment(data, wal, sysid));
  return data;
}

/**
 * fetchWal straight into `dest`, atomically (temp file, fsync, rename once every check passed):
 * decompressed through `dec` (one per concurrent fetch) in 256 KiB chunks, each hashed and
 * written while still in the CPU cache, so no 16 MiB output is allocated per segment (zstd
 * into a fresh output measured 34 ms of CPU per segment here, into the reused chunk 22 ms; the
 * fresh buffers also made V8 collect every few segments). Returns the size written, or null
 * when the file is not in the archive. Writes block the event loop per chunk: fine in
 * restore-wal's processes, which do nothing else meanwhile.
 */
export async function fetchWalInto(
  storage: WalSource,
  sysid: string,
  wal: WalName,
  dest: string,
  dec: Decompressor,
): Promise<number | null> {
  const key = walKey(sysid, wal);
  const obj = await storage.get(key);
  if (!obj) return null;
  const where = storage.description;
  const m = walMeta(key, obj.info.metadata, where);
  const tmp = `${dest}.tmp.${process.pid}.${randomBytes(3).toString('hex')}`;
  const fd = fsSync.openSync(tmp, 'w', 0o600);
  let open = true;
  try {
    const hash = createHash('sha256');
    const head = Buffer.alloc(64);
    let headLen = 0;
    let pos = 0;
    let writeErr: Error | undefined;
    let total: number;
    try {
      total = dec.each(m.codec, obj.body, m.size ?? 16 << 20, (chunk) => {
        hash.update(chunk);
        if (headLen < head.length) headLen += chunk.copy(head, headLen);
        try {
          for (let off = 0; off < chunk.length; )
            off += fsSync.writeSync(fd, chunk, off, chunk.length - off, pos + off);
        } catch (err) {
          writeErr = err as Error;
          throw err;
        }
        pos += chunk.length;
      });
    } catch (err) {
      // A full disk is not a corrupt archive: say which it was.
      if (writeErr) throw new WalError('io', `cannot write ${tmp}: ${writeErr.message}`, { cause: writeErr });
      throw new WalError('corrupt', `${key} in ${where}: ${(err as Error).message}`, { cause: err });
    }
    checkSum(key, where, hash.digest('hex'), m.sum);
    if (wal.kind === 'segment' || wal.kind === 'partial')
      named(key, where, () => checkSegmentHead(head.subarray(0, headLen), total, wal, sysid));
    // On libuv's pool, not this thread: a prefetcher's other slots keep reading their sockets
    // through the 16–25 ms an fsync of a segment takes.
    await new Promise<void>((resolve, reject) => fsSync.fsync(fd, (err) => (err ? reject(err) : resolve())));
    fsSync.closeSync(fd);
    open = false;
    await fs.rename(tmp, dest);
    return total;
  } finally {
    if (open) fsSync.closeSync(fd);
    await fs.rm(tmp, { force: true });
  }
}

/**
 * The `.partial` of segment `wal` (zero-padded to the segment size, as pg_receivewal writes it),
 * or null when there is none. Refused (exit 126) when the archive holds any later WAL file of
 * the timeline: then this partial is not the end of the WAL and serving it would skip WAL.
 */
export async function fetchPartialAsLast(
  storage: Storage,
  sysid: string,
  wal: WalName,
  log?: (msg: string) => void,
): Promise<Buffer | null> {
  const partial = parseWalName(`${wal.name}.partial`);
  const data = await fetchWal(storage, sysid, partial);
  if (!data) return null;
  const key = walKey(sysid, partial);
  const dir = key.slice(0, key.lastIndexOf('/') + 1);
  const later = (await storage.list(dir))
    .map((o) => o.key.slice(dir.length))
    .filter((n) => /^[0-9A-F]{24}(\.partial)?$/.test(n) && n.slice(0, 24) > wal.name);
  if (later.length > 0) {
    throw new WalError(
      'corrupt',
      `${wal.name} is missing from ${storage.description} but later WAL is archived (${later[0]}${later.length > 1 ? ` and ${later.length - 1} more` : ''}); its .partial is not the end of the WAL and is not served. Recovery stops here; find the complete segment or recover to an earlier target`,
    );
  }
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  log?.(
    `WARNING: ${wal.name} is not archived; serving ${partial.name} (streamed, ${end} of ${data.length} bytes hold WAL) as the last segment. WAL written after that point was never streamed and is lost; recovery ends in this segment`,
  );
  return data;
}

async function writeAtomic(dest: string, data: Buffer): Promise<void> {
  const tmp = `${dest}.tmp.${process.pid}.${randomBytes(3).toString('hex')}`;
  try {
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, dest);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Touched before a prefetcher is started, removed once it holds its lock: callers (here and
 * restore-fast.sh) wait for it through its start-up rather than fetching themselves.
 */
export function startingPath(spool: string): string {
  return path.join(spool, 'restore', '.prefetch.starting');
}

async function prefetcherStarting(spool: string): Promise<boolean> {
  const st = await fs.stat(startingPath(spool)).catch(() => null);
  return Boolean(st && Date.now() - st.mtimeMs < 3_000);
}

/** Lock file of a running background prefetcher (see prefetchWindow). */
function lockPath(spool: string): string {
  return path.join(spool, 'restore', '.prefetch.lock');
}

/**
 * Written by a prefetcher that stopped at the end of the archive: for a few seconds no new one
 * is started (here or by restore-fast.sh), since it would only find the same end again.
 */
function endPath(spool: string): string {
  return path.join(spool, 'restore', '.prefetch.end');
}

async function endedRecently(spool: string): Promise<boolean> {
  const st = await fs.stat(endPath(spool)).catch(() => null);
  return Boolean(st && Date.now() - st.mtimeMs < 5_000);
}

async function prefetcherRunning(spool: string): Promise<boolean> {
  const lock = lockPath(spool);
  const st = await fs.stat(lock).catch(() => null);
  // A lock older than two minutes belongs to a prefetcher that died (it touches it as it works).
  if (!st || Date.now() - st.mtimeMs >= 120_000) return false;
  // And one whose process is gone, at once (restore-fast.sh checks the same with `kill -0`).
  const pid = Number((await fs.readFile(lock, 'utf8').catch(() => '')).trim());
  if (!(pid > 0)) return true; // just created, its pid not written yet
  return processAlive(pid);
}

async function waitForSpooled(file: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fs.stat(file).catch(() => null)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

export interface RestoreWalResult {
  status: 'restored' | 'not-found';
  /** Set when the prefetch window should be refilled (by the caller, in the background). */
  refillAfter?: { walName: string; segSize: number };
}

/**
 * Serves one WAL file: from the spool when prefetched (waiting briefly for a running
 * prefetcher), else from storage. With `inlinePrefetch` the window is refilled before
 * returning; otherwise `refillAfter` tells the caller to start a background prefetcher.
 */
export async function restoreWal(
  opts: RestoreWalOptions & { inlinePrefetch?: boolean },
): Promise<RestoreWalResult> {
  const wal = parseWalName(opts.walName);
  const dest = path.resolve(opts.pgdata, opts.destPath);
  const spooled = restoreSpoolPath(opts.spool, wal.name);
  let size: number | null = null;
  if (
    wal.kind === 'segment' &&
    opts.prefetch > 0 &&
    !(await fs.stat(spooled).catch(() => null)) &&
    ((await prefetcherRunning(opts.spool)) || (await prefetcherStarting(opts.spool)))
  ) {
    await waitForSpooled(spooled, 5_000);
  }
  try {
    await fs.rename(spooled, dest);
  } catch {
    const source = await (opts.getter ?? opts.storage)();
    size = await fetchWalInto(source, opts.sysid, wal, dest, new Decompressor());
    // "Not archived" ends recovery: only an initialised repository may say so. A missing
    // directory, an unmounted volume or a wrong prefix throws (exit 126) instead. A found,
    // verified segment proves the repository, so the hot path pays nothing for this.
    if (size === null) await requireRepository(await opts.storage());
    if (size === null && opts.usePartial && wal.kind === 'segment') {
      const data = await fetchPartialAsLast(await opts.storage(), opts.sysid, wal, opts.log);
      if (data) {
        await writeAtomic(dest, data);
        return { status: 'restored' }; // the end of the archive: nothing to prefetch
      }
    }
    if (size === null) return { status: 'not-found' };
  }
  if (wal.kind !== 'segment' || opts.prefetch <= 0) return { status: 'restored' };
  const segSize = size ?? (await fs.stat(dest)).size;
  const want = await missingInWindow(opts, wal, segSize);
  if (want.length === 0) return { status: 'restored' };
  if ((await prefetcherRunning(opts.spool)) || (await endedRecently(opts.spool)))
    return { status: 'restored' };
  if (opts.inlinePrefetch) {
    await fetchIntoSpool(opts, want);
    return { status: 'restored' };
  }
  return { status: 'restored', refillAfter: { walName: wal.name, segSize } };
}

async function missingInWindow(opts: RestoreWalOptions, wal: WalName, segSize: number): Promise<string[]> {
  const first = segmentNumber(wal.segment!, segSize);
  const want: string[] = [];
  for (let i = 1n; i <= BigInt(opts.prefetch); i++) {
    const name = segmentName(wal.tli, first + i, segSize);
    if (!(await fs.stat(restoreSpoolPath(opts.spool, name)).catch(() => null))) want.push(name);
  }
  return want;
}

/**
 * The background prefetcher: one at a time per spool (lock file). It keeps the window after
 * the segment recovery last took filled, following recovery as it consumes spooled segments,
 * and exits once recovery has taken nothing for a few seconds (or the archive ends).
 *
 * A sliding window: each of the `parallel` slots takes the lowest segment of the window that
 * is neither spooled nor in flight as soon as it is free, so a segment recovery takes is
 * fetched again while the others are still in flight. (Fetching the window in batches, where
 * the next batch started only once the whole previous one was in, left one transfer going in
 * the steady state while recovery took one segment at a time: bench/README.md, session 9.)
 * A segment found not archived, or failing, ends the window there: nothing at or past it is
 * taken, the slots finish what they hold, and the call for that segment reports it.
 */
export async function prefetchWindow(
  opts: RestoreWalOptions,
  walName: string,
  segSize: number,
  idleMs = 5_000,
): Promise<void> {
  const dir = path.join(opts.spool, 'restore');
  await fs.mkdir(dir, { recursive: true });
  const lock = lockPath(opts.spool);
  try {
    await fs.writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
  } catch {
    if (await prefetcherRunning(opts.spool)) return;
    await fs.writeFile(lock, `${process.pid}\n`);
  }
  await fs.rm(startingPath(opts.spool), { force: true });
  try {
    const wal = parseWalName(walName);
    const numberOf = (name: string) => segmentNumber(parseWalName(name).segment!, segSize);
    for (const f of await fs.readdir(dir)) {
      if (/^[0-9A-F]{24}$/.test(f) && f <= walName) await fs.rm(path.join(dir, f), { force: true });
    }
    const source = await (opts.getter ?? opts.storage)();
    const window: SlidingWindow = {
      base: numberOf(walName),
      known: new Set(),
      inFlight: new Set(),
      lastProgress: Date.now(),
    };
    let present = new Set<string>();
    let lastLook = 0;
    // What recovery took: a segment of the window seen in the spool (ours or an earlier
    // prefetcher's) that is gone now moves the window past it. One readdir serves every slot
    // that asks within 20 ms.
    const look = async () => {
      if (Date.now() - lastLook < 20) return;
      lastLook = Date.now();
      await fs.utimes(lock, new Date(), new Date()).catch(() => {});
      present = new Set((await fs.readdir(dir)).filter((f) => /^[0-9A-F]{24}$/.test(f)));
      for (const name of window.known) {
        if (present.has(name)) continue;
        window.known.delete(name);
        const n = numberOf(name);
        if (n > window.base) window.base = n;
        window.lastProgress = Date.now();
      }
      for (const name of present) if (numberOf(name) > window.base) window.known.add(name);
    };
    const pick = (): string | null | 'wait' => {
      for (let i = 1n; i <= BigInt(opts.prefetch); i++) {
        const n = window.base + i;
        if (window.stopAt !== undefined && n >= window.stopAt) break;
        const name = segmentName(wal.tli, n, segSize);
        if (!present.has(name) && !window.known.has(name) && !window.inFlight.has(name)) return name;
      }
      // Nothing left below the end of the archive: this slot is done once nothing can follow.
      return window.stopAt !== undefined ? null : 'wait';
    };
    const slot = async () => {
      const dec = new Decompressor();
      for (;;) {
        await look();
        // Idle: recovery took nothing for idleMs while the window stood full.
        if (Date.now() - window.lastProgress >= idleMs) return;
        const name = pick();
        if (name === null) return;
        if (name === 'wait') {
          // Recovery taking a segment (a rename out of the spool) wakes the slot; the timeout
          // bounds the idle check and the lock's freshness.
          await changes.wait(500);
          lastLook = 0;
          continue;
        }
        window.inFlight.add(name);
        try {
          const spooled = restoreSpoolPath(opts.spool, name);
          if ((await fetchWalInto(source, opts.sysid, parseWalName(name), spooled, dec)) === null) {
            stopAt(window, numberOf(name));
            if (!window.missing || name < window.missing) window.missing = name;
          } else window.known.add(name);
        } catch (err) {
          // Not fatal here: the call for that segment fetches it again and reports.
          opts.log?.(`prefetch of ${name} failed: ${(err as Error).message}`);
          stopAt(window, numberOf(name));
        } finally {
          window.inFlight.delete(name);
        }
      }
    };
    const changes = dirWaiter(dir);
    try {
      await Promise.all(Array.from({ length: Math.max(1, opts.parallel) }, slot));
    } finally {
      changes.close();
    }
    // The end of the archive (for now): no new prefetcher for a few seconds.
    if (window.missing) await fs.writeFile(endPath(opts.spool), `${window.missing}\n`).catch(() => {});
  } finally {
    await fs.rm(lock, { force: true });
  }
}

interface SlidingWindow {
  /** The newest segment recovery took (the window is the `prefetch` segments after it). */
  base: bigint;
  /** Segments of the window in the spool, as last seen or just written. */
  known: Set<string>;
  inFlight: Set<string>;
  /** Nothing at or past this segment is fetched: not archived (yet), or failing. */
  stopAt?: bigint;
  /** The first segment found not archived. */
  missing?: string;
  lastProgress: number;
}

function stopAt(w: SlidingWindow, n: bigint): void {
  if (w.stopAt === undefined || n < w.stopAt) w.stopAt = n;
}

/**
 * Fetches the named segments (in order, stopping at the end of the archive); returns those
 * spooled and the first one found not archived.
 */
async function fetchIntoSpool(
  opts: RestoreWalOptions,
  want: string[],
): Promise<{ got: string[]; missing?: string }> {
  const got: string[] = [];
  let missing: string | undefined;
  if (want.length === 0) return { got };
  await fs.mkdir(path.join(opts.spool, 'restore'), { recursive: true });
  const storage = await (opts.getter ?? opts.storage)();
  let next = 0;
  let stop = false;
  const worker = async () => {
    const dec = new Decompressor();
    while (!stop && next < want.length) {
      const name = want[next++]!;
      try {
        const spooled = restoreSpoolPath(opts.spool, name);
        if ((await fetchWalInto(storage, opts.sysid, parseWalName(name), spooled, dec)) === null) {
          stop = true; // end of the archive for now
          if (!missing || name < missing) missing = name;
          continue;
        }
        got.push(name);
      } catch (err) {
        // Not fatal here: the call for that segment will fetch it again and report.
        opts.log?.(`prefetch of ${name} failed: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.parallel, want.length) }, worker));
  return { got, ...(missing ? { missing } : {}) };
}
