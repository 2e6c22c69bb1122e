// Downloads a backup's files and checks each against its manifest (size and SHA-256), several
// at a time: restore writes them into a data directory, verify only checks. Small files are
// one GET + one decompress + one write; a file stored in pieces is created at its full size
// and each piece is fetched by whichever worker is free and written at its offset, so one big
// relation file uses every worker.
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Storage } from '../storage/types.ts';
import { decompressStream, HashCounter, Rechunk } from './codec.ts';
import { WalError } from './errors.ts';
import { backupFileKey, pieceKey } from './layout.ts';
import type { Manifest, ManifestFile } from './manifest.ts';
import { type PieceJob, type PieceResult, PieceWorkers, runPieceJob } from './piece-worker.ts';
import { noProgress, type Progress } from './progress.ts';

/** Objects up to this size are fetched whole and decompressed in one thread-pool call. */
const WHOLE_LIMIT = 32 * 1024 * 1024;

export interface FetchBackupOptions {
  /** Target data directory (its directories already made); null: only verify. */
  pgdata: string | null;
  parallel: number;
  /** Verify mode: report a bad file and go on (restore stops at the first one). */
  onProblem?: (msg: string) => void;
  /**
   * Worker threads for decompress + check + write (piece-worker.ts); 0 or absent: all in this
   * thread (what the Lambda bundles need).
   */
  workers?: number;
  /** Called after each finished file. */
  onFile?: (f: ManifestFile) => void;
  /** Bytes and files as they are fetched and checked (pieces count as they land). */
  meter?: Progress;
}

function corrupt(
  m: Manifest,
  what: string,
  storage: Storage,
  got: { size: number; sum: string },
  want: { size: number; sha256: string },
) {
  return new WalError(
    'corrupt',
    `backup ${m.id}: ${what} is corrupt in ${storage.description} (got ${got.size} bytes sha256 ${got.sum}, manifest says ${want.size} bytes sha256 ${want.sha256}); use another backup`,
  );
}

/** GET one object, or fail naming it as missing. */
async function getObject(storage: Storage, m: Manifest, key: string): Promise<Buffer> {
  const obj = await storage.get(key);
  if (!obj)
    throw new WalError(
      'corrupt',
      `backup ${m.id} is incomplete: ${key} is missing from ${storage.description}`,
    );
  return obj.body;
}

/** What one fetched object must decompress to, and where it goes. */
interface Target extends Omit<PieceJob, 'body' | 'codec'> {
  what: string;
  key: string;
}

/** Decompress + check + write: in this thread (verify, the Lambda bundles) or a worker. */
type Checker = (job: PieceJob) => Promise<PieceResult>;
const inlineChecker: Checker = async (job) => runPieceJob(job);

async function fetchChecked(storage: Storage, m: Manifest, check: Checker, t: Target): Promise<void> {
  const r = await check({ ...t, body: await getObject(storage, m, t.key), codec: m.codec });
  if (r.error !== undefined)
    throw new WalError(
      'corrupt',
      `backup ${m.id}: ${t.what} could not be decompressed from ${t.key}: ${r.error}`,
    );
  if (r.size !== t.size || r.sha256 !== t.sha256)
    throw corrupt(m, t.what, storage, { size: r.size, sum: r.sha256 }, t);
}

/** A file stored as one object: into dest, or only checked when dest is null. */
async function fetchWhole(
  storage: Storage,
  m: Manifest,
  check: Checker,
  f: ManifestFile,
  dest: string | null,
): Promise<void> {
  const key = backupFileKey(m.systemId, f.ref ?? m.id, f.path);
  const mode = f.mode & 0o777 || 0o600;
  if (f.storedSize <= WHOLE_LIMIT) {
    await fetchChecked(storage, m, check, {
      what: f.ref ? `${f.path} (stored in backup ${f.ref})` : f.path,
      key,
      size: f.size,
      sha256: f.sha256,
      dest,
      offset: -1,
      mode,
    });
    return;
  }
  // Backups written before pieces existed keep big files as one object: stream those.
  const obj = await storage.getStream(key);
  if (!obj)
    throw new WalError(
      'corrupt',
      `backup ${m.id} is incomplete: ${key} is missing from ${storage.description}`,
    );
  const hc = new HashCounter();
  const sink = dest
    ? createWriteStream(dest, { mode, highWaterMark: 1 << 20 })
    : new Writable({ write: (_c, _e, cb) => cb() });
  try {
    await pipeline(obj.body, new Rechunk(1 << 20), decompressStream(m.codec), hc, sink);
  } catch (err) {
    throw new WalError(
      'corrupt',
      `backup ${m.id}: ${f.path} could not be read/decompressed from ${key}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const sum = hc.hash.digest('hex');
  if (hc.bytes !== f.size || sum !== f.sha256) throw corrupt(m, f.path, storage, { size: hc.bytes, sum }, f);
}

interface PiecedFile {
  f: ManifestFile;
  /** Created at full size by the first piece that needs it. */
  created: Promise<void> | null;
  left: number;
  failed: boolean;
}

export async function fetchBackupFiles(
  storage: Storage,
  m: Manifest,
  opts: FetchBackupOptions,
): Promise<void> {
  type Job = { f: ManifestFile; pieced?: PiecedFile; n?: number };
  const jobs: Job[] = [];
  for (const f of m.files) {
    if (!f.pieces) {
      jobs.push({ f });
      continue;
    }
    if (!m.pieceSize)
      throw new WalError(
        'corrupt',
        `backup ${m.id}: ${f.path} is stored in pieces but the manifest has no pieceSize`,
      );
    const pieced: PiecedFile = { f, created: null, left: f.pieces.length, failed: false };
    for (let n = 0; n < f.pieces.length; n++) jobs.push({ f, pieced, n });
  }
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

  const workers = opts.workers ? new PieceWorkers(opts.workers) : null;
  const check: Checker = workers ? (job) => workers.run(job) : inlineChecker;

  const piece = async (p: PiecedFile, n: number) => {
    const want = p.f.pieces![n]!;
    const dest = opts.pgdata ? path.join(opts.pgdata, p.f.path) : null;
    if (dest) {
      p.created ??= (async () => {
        const h = await fs.open(dest, 'w', p.f.mode & 0o777 || 0o600);
        try {
          await h.truncate(p.f.size);
        } finally {
          await h.close();
        }
      })();
      await p.created;
    }
    await fetchChecked(storage, m, check, {
      what: `${p.f.path} piece ${n}${want.ref ? ` (stored in backup ${want.ref})` : ''}`,
      key: pieceKey(backupFileKey(m.systemId, want.ref ?? m.id, p.f.path), n),
      size: want.size,
      sha256: want.sha256,
      dest,
      offset: n * m.pieceSize!,
      mode: 0,
    });
  };

  let next = 0;
  const worker = async () => {
    while (next < jobs.length && !firstError) {
      const job = jobs[next++]!;
      const p = job.pieced;
      if (!p) {
        try {
          await fetchWhole(storage, m, check, job.f, opts.pgdata ? path.join(opts.pgdata, job.f.path) : null);
          opts.onFile?.(job.f);
        } catch (err) {
          fail(err);
        }
        meter.add(job.f.size, true);
        continue;
      }
      try {
        await piece(p, job.n!);
      } catch (err) {
        // One report per file, not one per bad piece.
        if (!p.failed) fail(err);
        p.failed = true;
      }
      const last = --p.left === 0;
      meter.add(p.f.pieces![job.n!]!.size, last);
      if (last && !p.failed) opts.onFile?.(p.f);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.parallel) }, worker));
  } finally {
    await workers?.close();
  }
  if (!firstError) meter.finish();
  if (firstError) throw firstError;
}
