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
import { decompress, decompressStream, HashCounter, Rechunk, sha256Async } from './codec.ts';
import { WalError } from './errors.ts';
import { backupFileKey, pieceKey } from './layout.ts';
import type { Manifest, ManifestFile } from './manifest.ts';

/** Objects up to this size are fetched whole and decompressed in one thread-pool call. */
const WHOLE_LIMIT = 32 * 1024 * 1024;

export interface FetchBackupOptions {
  /** Target data directory (its directories already made); null: only verify. */
  pgdata: string | null;
  parallel: number;
  /** Verify mode: report a bad file and go on (restore stops at the first one). */
  onProblem?: (msg: string) => void;
  /** Called after each finished file. */
  onFile?: (f: ManifestFile) => void;
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

/** GET + decompress one object; `null` body errors are reported as missing. */
async function fetchObject(
  storage: Storage,
  m: Manifest,
  key: string,
  what: string,
  size: number,
): Promise<Buffer> {
  const obj = await storage.get(key);
  if (!obj)
    throw new WalError(
      'corrupt',
      `backup ${m.id} is incomplete: ${key} is missing from ${storage.description}`,
    );
  try {
    return await decompress(m.codec, obj.body, size);
  } catch (err) {
    throw new WalError(
      'corrupt',
      `backup ${m.id}: ${what} could not be decompressed from ${key}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** A file stored as one object: into dest, or only checked when dest is null. */
async function fetchWhole(
  storage: Storage,
  m: Manifest,
  f: ManifestFile,
  dest: string | null,
): Promise<void> {
  const key = backupFileKey(m.systemId, m.id, f.path);
  const mode = f.mode & 0o777 || 0o600;
  if (f.storedSize <= WHOLE_LIMIT) {
    const data = await fetchObject(storage, m, key, f.path, f.size);
    const sum = await sha256Async(data);
    if (data.length !== f.size || sum !== f.sha256)
      throw corrupt(m, f.path, storage, { size: data.length, sum }, f);
    if (dest) await fs.writeFile(dest, data, { mode });
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
  /** Opened (created at full size) by the first piece that needs it. */
  fh: Promise<fs.FileHandle> | null;
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
    const pieced: PiecedFile = { f, fh: null, left: f.pieces.length, failed: false };
    for (let n = 0; n < f.pieces.length; n++) jobs.push({ f, pieced, n });
  }
  let firstError: unknown = null;
  const fail = (err: unknown) => {
    if (opts.onProblem) opts.onProblem((err as Error).message);
    else firstError ??= err;
  };

  const piece = async (p: PiecedFile, n: number) => {
    const want = p.f.pieces![n]!;
    const what = `${p.f.path} piece ${n}`;
    const data = await fetchObject(
      storage,
      m,
      pieceKey(backupFileKey(m.systemId, m.id, p.f.path), n),
      what,
      want.size,
    );
    const sum = await sha256Async(data);
    if (data.length !== want.size || sum !== want.sha256)
      throw corrupt(m, what, storage, { size: data.length, sum }, want);
    if (!opts.pgdata) return;
    p.fh ??= (async () => {
      const h = await fs.open(path.join(opts.pgdata!, p.f.path), 'w', p.f.mode & 0o777 || 0o600);
      await h.truncate(p.f.size);
      return h;
    })();
    const fh = await p.fh;
    let off = 0;
    while (off < data.length)
      off += (await fh.write(data, off, data.length - off, n * m.pieceSize! + off)).bytesWritten;
  };

  let next = 0;
  const worker = async () => {
    while (next < jobs.length && !firstError) {
      const job = jobs[next++]!;
      const p = job.pieced;
      if (!p) {
        try {
          await fetchWhole(storage, m, job.f, opts.pgdata ? path.join(opts.pgdata, job.f.path) : null);
          opts.onFile?.(job.f);
        } catch (err) {
          fail(err);
        }
        continue;
      }
      try {
        await piece(p, job.n!);
      } catch (err) {
        // One report per file, not one per bad piece.
        if (!p.failed) fail(err);
        p.failed = true;
      }
      if (--p.left === 0) {
        if (p.fh) await p.fh.then((h) => h.close()).catch((err) => (p.failed ? undefined : fail(err)));
        if (!p.failed) opts.onFile?.(p.f);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel) }, worker));
  if (firstError) throw firstError;
}
