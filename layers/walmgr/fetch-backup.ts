// Downloads a backup's files and checks each against its manifest (size and SHA-256), several
// at a time: restore writes them into a data directory, verify only checks. The plan is a list
// of objects to GET, each holding one or more files: a small file stored alone, a piece of a
// big file (written at its offset by whichever worker is free, so one big relation file uses
// every worker), or a bundle of small files (manifest format 2, bundle.ts: one GET of the span
// holding the wanted ones). With worker threads (restore, the CLI's verify) each worker GETs
// its objects itself (direct-read.ts); otherwise (the Lambda bundles) this thread does.
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Credentials } from '../storage/sigv4.ts';
import type { Storage } from '../storage/types.ts';
import { decompressStream, HashCounter, Rechunk } from './codec.ts';
import { WalError } from './errors.ts';
import { backupFileKey, bundleKey, pieceKey } from './layout.ts';
import type { Manifest, ManifestFile, ManifestPiece, PageDelta } from './manifest.ts';
import {
  type Extract,
  ExtractState,
  type FetchJob,
  type FetchResult,
  PieceWorkers,
  runFetchJob,
  workerStorageError,
} from './piece-worker.ts';
import { noProgress, type Progress } from './progress.ts';

/**
 * With worker threads, each of the `parallel` transfer slots keeps this many objects in flight:
 * a worker's CPU work (decompress, hash, write) runs synchronously, so the GETs of the objects
 * after it must already be on their way. With only `parallel` in flight a restore on two cores
 * used 1.4–1.5 of them, waiting for GETs; with three per slot 1.8–1.9 (bench/README.md).
 */
const READ_AHEAD = 3;
/** At most this many objects in flight however high --parallel is (memory: each holds its body). */
const MAX_IN_FLIGHT = 48;
/** Objects up to this size are fetched whole and decompressed in one call. */
const WHOLE_LIMIT = 32 * 1024 * 1024;
/** Temporary credentials are handed to the workers again this often (the SDK refreshes them). */
const CREDENTIALS_REFRESH_MS = 5 * 60_000;

export interface FetchBackupOptions {
  /** Target data directory (its directories already made); null: only verify. */
  pgdata: string | null;
  parallel: number;
  /** Verify mode: report a bad file and go on (restore stops at the first one). */
  onProblem?: (msg: string) => void;
  /**
   * Worker threads that fetch, decompress, check and write (piece-worker.ts): how many to start,
   * or ones the caller started (without a spec: it is given here; the caller closes them); 0 or
   * absent: all in this thread (what the Lambda bundles need).
   */
  workers?: number | PieceWorkers;
  /** Called after each finished file. */
  onFile?: (f: ManifestFile) => void;
  /**
   * Called with the path of each piece or file written and checked, and the size of that whole
   * file (restore's early flush).
   */
  onWritten?: (dest: string, fileSize: number) => void;
  /** Bytes and files as they are fetched and checked (pieces count as they land). */
  meter?: Progress;
}

function corrupt(
  m: Manifest,
  what: string,
  storage: Storage,
  got: { size: number; sum: string },
  want: { size: number; sha256: string; storedSha256?: string },
) {
  // Format 3 checks the stored bytes' SHA-256 (piece-worker.ts); say which one differed.
  const which = want.storedSha256 !== undefined ? 'stored sha256' : 'sha256';
  return new WalError(
    'corrupt',
    `backup ${m.id}: ${what} is corrupt in ${storage.description} (got ${got.size} bytes ${which} ${got.sum}, manifest says ${want.size} bytes ${which} ${want.storedSha256 ?? want.sha256}); use another backup`,
  );
}

/** One file or piece inside a planned object, and what to report for it. */
interface Part {
  x: Extract;
  what: string;
  file: ManifestFile;
  /** Counts in the meter as this many bytes; `last` when it completes its file. */
  pieced?: PiecedFile;
  /** Bytes it counts for in the meter (default: its size; a page delta's base counted them). */
  bytes?: number;
}

interface PiecedFile {
  left: number;
  failed: boolean;
}

interface Unit {
  key: string;
  range?: { start: number; end: number };
  parts: Part[];
  /** Where the object came from, for messages (a bundle). */
  holder?: string;
}

/** A legacy backup's big file stored as one object: streamed in this thread. */
async function fetchStreamed(
  storage: Storage,
  m: Manifest,
  f: ManifestFile,
  dest: string | null,
): Promise<void> {
  const key = backupFileKey(m.systemId, f.ref ?? m.id, f.path);
  const obj = await storage.getStream(key);
  if (!obj)
    throw new WalError(
      'corrupt',
      `backup ${m.id} is incomplete: ${key} is missing from ${storage.description}`,
    );
  const hc = new HashCounter();
  const sink = dest
    ? createWriteStream(dest, { mode: f.mode & 0o777 || 0o600, highWaterMark: 1 << 20 })
    : new Writable({ write: (_c, _e, cb) => cb() });
  try {
    await pipeline(obj.body, new Rechunk(1 << 20), decompressStream(m.codec), hc, sink);
  } catch (err) {
    throw new WalError(
      'corrupt',
      `backup ${m.id}: ${f.path} could not be read/decompressed from ${key}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const sum = hc.hash.digest('hex');
  if (hc.bytes !== f.size || sum !== f.sha256) throw corrupt(m, f.path, storage, { size: hc.bytes, sum }, f);
}

/** Every object to GET and the files it holds; legacy single-object big files apart. */
export function planFetch(
  m: Manifest,
  pgdata: string | null,
): { units: Unit[]; deltas: Unit[]; streamed: ManifestFile[] } {
  const units: Unit[] = [];
  const deltas: Unit[] = [];
  const streamed: ManifestFile[] = [];
  const bundles = new Map<string, { holder: string; n: number; parts: Part[] }>();
  const dest = (f: ManifestFile) => (pgdata ? path.join(pgdata, f.path) : null);
  for (const f of m.files) {
    const mode = f.mode & 0o777 || 0o600;
    const refNote = (ref: string | undefined) => (ref ? ` (stored in backup ${ref})` : '');
    if (f.pieces) {
      if (!m.pieceSize)
        throw new WalError(
          'corrupt',
          `backup ${m.id}: ${f.path} is stored in pieces but the manifest has no pieceSize`,
        );
      const pieced: PiecedFile = {
        left: f.pieces.length + f.pieces.filter((p) => p.pages).length,
        failed: false,
      };
      for (const [n, p] of f.pieces.entries()) {
        const offset = n * m.pieceSize;
        const whole = p.pages ? p.pages.base : p;
        const holder = p.pages ? p.pages.base.ref : p.ref;
        units.push({
          key: pieceKey(backupFileKey(m.systemId, holder ?? m.id, f.path), n),
          parts: [
            {
              x: {
                srcOffset: 0,
                srcLength: whole.storedSize,
                size: whole.size,
                sha256: whole.sha256,
                ...(whole.storedSha256 !== undefined ? { storedSha256: whole.storedSha256 } : {}),
                dest: dest(f),
                offset,
                mode,
              },
              what: `${f.path} piece ${n}${p.pages ? ' (the base of its page delta)' : ''}${refNote(holder)}`,
              file: f,
              pieced,
            },
          ],
        });
        if (p.pages) deltas.push(deltaUnit(m, f, n, p, p.pages, dest(f), mode, pieced));
      }
      continue;
    }
    const x: Extract = {
      srcOffset: 0,
      srcLength: f.storedSize,
      size: f.size,
      sha256: f.sha256,
      ...(f.storedSha256 !== undefined ? { storedSha256: f.storedSha256 } : {}),
      dest: dest(f),
      offset: -1,
      mode,
    };
    if (f.bundle) {
      const holder = f.ref ?? m.id;
      const id = `${holder}/${f.bundle.n}`;
      const b = bundles.get(id) ?? { holder, n: f.bundle.n, parts: [] };
      bundles.set(id, b);
      x.srcOffset = f.bundle.offset;
      b.parts.push({ x, what: `${f.path}${refNote(f.ref)}`, file: f });
      continue;
    }
    if (f.storedSize > WHOLE_LIMIT) {
      streamed.push(f);
      continue;
    }
    units.push({
      key: backupFileKey(m.systemId, f.ref ?? m.id, f.path),
      parts: [{ x, what: `${f.path}${refNote(f.ref)}`, file: f }],
    });
  }
  // A bundle: one GET of the span from its first wanted file to the end of its last (all of
  // it for a full backup; a diff/incr backup may want only some of an older bundle's files).
  for (const b of bundles.values()) {
    const start = Math.min(...b.parts.map((p) => p.x.srcOffset));
    const end = Math.max(...b.parts.map((p) => p.x.srcOffset + p.x.srcLength));
    for (const p of b.parts) p.x.srcOffset -= start;
    const key = bundleKey(m.systemId, b.holder, b.n);
    for (const p of b.parts) p.what = `${p.what} in bundle ${key}`;
    units.unshift({ key, range: { start, end }, parts: b.parts, holder: b.holder });
  }
  return { units, deltas, streamed };
}

/** The unit of a page delta: its pages written over the base piece (after every other unit). */
function deltaUnit(
  m: Manifest,
  f: ManifestFile,
  n: number,
  p: ManifestPiece,
  pages: PageDelta,
  dest: string | null,
  mode: number,
  pieced: PiecedFile,
): Unit {
  const offset = n * (m.pieceSize as number);
  const spans = pages.runs.map(([first, count]): [number, number] => [
    offset + first * pages.blockSize,
    count * pages.blockSize,
  ]);
  const end = spans.reduce((e, [at, len]) => Math.max(e, at + len), 0);
  if (p.storedSha256 === undefined || end > offset + p.size)
    throw new WalError(
      'corrupt',
      `backup ${m.id}: ${f.path} piece ${n} is a page delta ${p.storedSha256 === undefined ? 'without a stored checksum' : 'with pages past the piece'}; use another backup`,
    );
  const holder = p.ref;
  return {
    key: pieceKey(backupFileKey(m.systemId, holder ?? m.id, f.path), n),
    parts: [
      {
        x: {
          srcOffset: 0,
          srcLength: p.storedSize,
          size: spans.reduce((t, [, len]) => t + len, 0),
          sha256: '',
          storedSha256: p.storedSha256,
          dest,
          offset,
          mode,
          spans,
        },
        what: `${f.path} piece ${n} (page delta over backup ${pages.base.ref})${holder ? ` (stored in backup ${holder})` : ''}`,
        file: f,
        pieced,
        bytes: 0,
      },
    ],
  };
}

/** Objects in flight for `parallel` transfers: read ahead when worker threads do the CPU work. */
export function inFlight(parallel: number, threads: boolean): number {
  const n = Math.max(1, parallel);
  return threads ? Math.max(n, Math.min(n * READ_AHEAD, MAX_IN_FLIGHT)) : n;
}

export async function fetchBackupFiles(
  storage: Storage,
  m: Manifest,
  opts: FetchBackupOptions,
): Promise<void> {
  const { units, deltas, streamed } = planFetch(m, opts.pgdata);
  const meter = opts.meter ?? noProgress;
  meter.start(
    m.files.length,
    m.files.reduce((t, f) => t + f.size, 0),
  );
  let firstError: unknown = null;
  const fail = (err: unknown) => {
    if (opts.onProblem) opts.onProblem((err as Error).message);
    else firstError ??= err;
  };

  // Workers read objects themselves when the storage says how; else they get the bodies.
  const spec = opts.workers ? ((await storage.readerSpec?.()) ?? null) : null;
  const given = opts.workers instanceof PieceWorkers ? opts.workers : null;
  given?.setSpec(spec);
  const workers = given ?? (opts.workers ? new PieceWorkers(opts.workers as number, spec) : null);
  const refresh =
    workers && spec?.kind === 's3'
      ? setInterval(() => {
          storage
            .readerSpec?.()
            .then((s) => s.kind === 's3' && workers.setCredentials(s.credentials as Credentials))
            .catch(() => {}); // the old ones keep working until they expire; then the GETs say so
        }, CREDENTIALS_REFRESH_MS)
      : null;
  refresh?.unref();
  const inline = new ExtractState();
  const run = async (u: Unit): Promise<FetchResult> => {
    const job: FetchJob = {
      key: u.key,
      codec: m.codec,
      extracts: u.parts.map((p) => p.x),
      ...(u.range ? { range: u.range } : {}),
    };
    if (!spec) {
      const obj = await storage.get(u.key);
      if (!obj) return { missing: true, results: [] };
      if (u.range && obj.body.length < u.range.end)
        throw new WalError(
          'corrupt',
          `backup ${m.id}: ${u.key} in ${storage.description} has ${obj.body.length} bytes, the manifest names bytes up to ${u.range.end}`,
        );
      const body = u.range ? obj.body.subarray(u.range.start, u.range.end) : obj.body;
      job.body = body;
    }
    return workers ? workers.run(job) : runFetchJob(inline, null, job);
  };

  const finishPart = (p: Part, ok: boolean) => {
    if (ok && p.x.dest) opts.onWritten?.(p.x.dest, p.file.size);
    if (!p.pieced) {
      meter.add(p.file.size, true);
      if (ok) opts.onFile?.(p.file);
      return;
    }
    if (!ok) p.pieced.failed = true;
    const last = --p.pieced.left === 0;
    meter.add(p.bytes ?? p.x.size, last);
    if (last && !p.pieced.failed) opts.onFile?.(p.file);
  };
  const unitDone = (u: Unit, r: FetchResult) => {
    if (r.storageError !== undefined) throw workerStorageError(u.key, r.storageError);
    if (r.missing)
      throw new WalError(
        'corrupt',
        `backup ${m.id} is incomplete: ${u.key} is missing from ${storage.description}`,
      );
    for (const [i, p] of u.parts.entries()) {
      const got = r.results[i]!;
      let err: WalError | null = null;
      if (got.error !== undefined)
        err = new WalError(
          'corrupt',
          `backup ${m.id}: ${p.what} could not be decompressed from ${u.key}: ${got.error}`,
        );
      else if (got.size !== p.x.size || got.sha256 !== (p.x.storedSha256 ?? p.x.sha256))
        err = corrupt(m, p.what, storage, { size: got.size, sum: got.sha256 }, p.x);
      // One report per file, not one per bad piece.
      if (err && !p.pieced?.failed) fail(err);
      finishPart(p, !err);
    }
  };

  // Page deltas go last: their pages are written over base pieces that must have landed.
  let queue = units;
  let next = 0;
  const loop = async () => {
    while (next < queue.length && !firstError) {
      const u = queue[next++]!;
      try {
        unitDone(u, await run(u));
      } catch (err) {
        // The object as a whole failed (missing, storage): one report for all it holds.
        if (!u.parts[0]!.pieced?.failed) fail(err);
        for (const p of u.parts) finishPart(p, false);
      }
    }
  };
  const slots = inFlight(opts.parallel, workers != null);
  try {
    await Promise.all([
      (async () => {
        await Promise.all(Array.from({ length: slots }, loop));
        queue = deltas;
        next = 0;
        await Promise.all(Array.from({ length: slots }, loop));
      })(),
      (async () => {
        for (const f of streamed) {
          if (firstError) break;
          try {
            await fetchStreamed(storage, m, f, opts.pgdata ? path.join(opts.pgdata, f.path) : null);
            opts.onFile?.(f);
          } catch (err) {
            fail(err);
          }
          meter.add(f.size, true);
        }
      })(),
    ]);
  } finally {
    if (refresh) clearInterval(refresh);
    if (!given) await workers?.close();
  }
  if (!firstError) meter.finish();
  if (firstError) throw firstError;
}
