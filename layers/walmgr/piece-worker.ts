// Worker threads for restore: each one GETs its objects itself (direct-read.ts: one keep-alive
// connection, no AWS SDK), decompresses every file or piece an object holds into one reused
// buffer, checks its size and SHA-256 against the manifest and writes it into the data
// directory (format 3: the SHA-256 of the stored bytes, hashed as they are decompressed). The
// main thread only plans and reports. Measured on a 1.5 GiB restore: with the
// HTTP of every object on the main thread through the SDK, that thread (middleware, HTTP, TLS,
// its garbage) was a third of the CPU and the bottleneck. Used by fetch-backup.ts when asked
// for (the Lambda bundles never start workers: they cannot load this file by URL); there the
// same `runExtracts` runs inline on bodies from Storage.get.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { getCompileCacheDir } from 'node:module';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  type ByteRange,
  type DirectReader,
  openDirectReader,
  type ReaderSpec,
} from '../storage/direct-read.ts';
import type { Credentials } from '../storage/sigv4.ts';
import { StorageError } from '../storage/types.ts';
import { Decompressor } from './codec.ts';

/** One file (or piece of one) inside a fetched object. */
export interface Extract {
  /** Where its compressed bytes are in what was fetched. */
  srcOffset: number;
  srcLength: number;
  /** Expected uncompressed size and SHA-256. */
  size: number;
  sha256: string;
  /**
   * Manifest format 3: SHA-256 of the stored (compressed) bytes. When present it is what gets
   * hashed and checked instead of the plain bytes (README, "Verification": the stored bytes
   * decompress to one result, and zstd's frame checksum guards the decompression).
   */
  storedSha256?: string;
  /** Where to write when the check passes; null: only check. */
  dest: string | null;
  /** Write at this offset of a file (pieces), or create the file whole (-1). */
  offset: number;
  mode: number;
  /**
   * A page delta (manifest format 4): the bytes go, in order, into these [file offset, length]
   * spans instead of from `offset` on (written after the base piece they go over).
   */
  spans?: Array<[number, number]>;
}

export interface FetchJob {
  key: string;
  /** Only these bytes of the object (a bundle's span holding the wanted files). */
  range?: ByteRange;
  /** Already fetched (inline use, tests); otherwise the worker reads `key`. */
  body?: Uint8Array;
  codec: string;
  extracts: Extract[];
}

export interface ExtractResult {
  size: number;
  /** SHA-256 of the stored bytes when the extract has `storedSha256`, else of the plain ones. */
  sha256: string;
  /** Decompression error message, when it failed. */
  error?: string;
}

export interface FetchResult {
  /** No object under the key. */
  missing?: boolean;
  /** Storage failure (after retries). */
  storageError?: string;
  results: ExtractResult[];
}

/** Per-thread state: the decompression buffer reused across objects. */
export class ExtractState {
  readonly dec = new Decompressor();
}

/**
 * Decompress + check + write each extract of a fetched body, chunk by chunk (codec.ts
 * Decompressor: each chunk hashed and written while in the CPU cache). So a corrupt object may
 * be partly written before its SHA-256 is known: restore then fails (never reporting success),
 * and a whole file that fails its check is removed again. Never a byte past the expected size.
 */
export function runExtracts(
  state: ExtractState,
  codec: string,
  body: Uint8Array,
  extracts: Extract[],
): ExtractResult[] {
  return extracts.map((x) => {
    const hash = createHash('sha256');
    const stored = x.storedSha256 !== undefined;
    let fd = -1;
    let size = 0;
    let r: ExtractResult;
    const place = x.spans ? spanWriter(x.spans) : null;
    try {
      state.dec.each(
        codec,
        body.subarray(x.srcOffset, x.srcOffset + x.srcLength),
        x.size,
        (chunk) => {
          if (!stored) hash.update(chunk);
          if (x.dest && size + chunk.length <= x.size) {
            if (fd < 0) fd = open(x);
            if (place) place(fd, chunk);
            else writeAll(fd, chunk, Math.max(0, x.offset) + size);
          }
          size += chunk.length;
        },
        stored ? (chunk) => hash.update(chunk) : undefined,
      );
      if (x.dest && fd < 0 && size === 0) fd = open(x); // an empty file is still created
      r = { size, sha256: hash.digest('hex') };
    } catch (err) {
      r = { size: -1, sha256: '', error: (err as Error).message };
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
    if (x.dest && x.offset < 0 && (r.size !== x.size || r.sha256 !== (x.storedSha256 ?? x.sha256)))
      fs.rmSync(x.dest, { force: true });
    return r;
  });
}

function writeAll(fd: number, chunk: Uint8Array, at: number): void {
  let off = 0;
  while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off, at + off);
}

/** Writes a stream of chunks into [offset, length] spans in order (a page delta's pages). */
function spanWriter(
  spans: ReadonlyArray<readonly [number, number]>,
): (fd: number, chunk: Uint8Array) => void {
  let i = 0;
  let into = 0; // bytes of spans[i] written so far
  return (fd, chunk) => {
    let off = 0;
    while (off < chunk.length) {
      const span = spans[i];
      if (!span) throw new Error('a page delta holds more bytes than its pages');
      const n = Math.min(span[1] - into, chunk.length - off);
      writeAll(fd, chunk.subarray(off, off + n), span[0] + into);
      off += n;
      into += n;
      if (into === span[1]) {
        i++;
        into = 0;
      }
    }
  };
}

/**
 * Pieces of one file arrive in any order from any worker: each opens without truncating and
 * writes at its offset; the last one to land completes the file.
 */
function open(x: Extract): number {
  return x.offset < 0
    ? fs.openSync(x.dest!, 'w', x.mode)
    : fs.openSync(x.dest!, fs.constants.O_WRONLY | fs.constants.O_CREAT, x.mode);
}

/** The whole job: fetch (unless the body came with it), then the extracts. */
export async function runFetchJob(
  state: ExtractState,
  reader: DirectReader | null,
  job: FetchJob,
): Promise<FetchResult> {
  let body = job.body;
  if (!body) {
    if (!reader) throw new Error('restore worker has no reader and the job no body');
    try {
      body = (await reader.read(job.key, job.range)) ?? undefined;
    } catch (err) {
      return { storageError: (err as Error).message, results: [] };
    }
    if (!body) return { missing: true, results: [] };
  }
  return { results: runExtracts(state, job.codec, body, job.extracts) };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  // The spec may come later, in a message before the first job (PieceWorkers.setSpec).
  let spec = (workerData as { spec?: ReaderSpec | null } | undefined)?.spec ?? null;
  // One reader (its connection and read buffer) per job in flight: a worker overlaps the GETs
  // of its next objects with the CPU work of the current one, which runs synchronously, so
  // the decompression buffer is never shared.
  const idle: DirectReader[] = [];
  const all: DirectReader[] = [];
  const state = new ExtractState();
  const withReader = async <T>(fn: (r: DirectReader | null) => Promise<T>): Promise<T> => {
    if (!spec) return fn(null);
    const r = idle.pop() ?? openDirectReader(spec);
    if (!all.includes(r)) all.push(r);
    try {
      return await fn(r);
    } finally {
      idle.push(r);
    }
  };
  port.on(
    'message',
    (msg: { id: number; job: FetchJob } | { credentials: Credentials } | { spec: ReaderSpec | null }) => {
      if ('spec' in msg) {
        spec = msg.spec;
        return;
      }
      if ('credentials' in msg) {
        for (const r of all) r.setCredentials(msg.credentials);
        if (spec?.kind === 's3') spec.credentials = msg.credentials;
        return;
      }
      withReader((r) => runFetchJob(state, r, msg.job)).then(
        (result) => port.postMessage({ id: msg.id, result }),
        (err: Error) => port.postMessage({ id: msg.id, fail: err.message }),
      );
    },
  );
}

/** The workers' entry: enables the compile cache, then loads this module (piece-worker-start.js). */
const START = new URL('./piece-worker-start.js', import.meta.url);

/** A fixed set of workers taking jobs by least outstanding work. */
export class PieceWorkers {
  private readonly workers: { w: Worker; busy: number; dead: Error | null }[] = [];
  private readonly waiting = new Map<
    number,
    { resolve: (r: FetchResult) => void; reject: (e: Error) => void; slot: object }
  >();
  private nextId = 0;
  private closing = false;

  /**
   * `spec`: the workers read objects themselves; null: every job brings its body; undefined:
   * given later by `setSpec` (restore starts the workers before it has read the manifest, so
   * their start-up overlaps the main thread's).
   */
  constructor(count: number, spec?: ReaderSpec | null) {
    for (let i = 0; i < count; i++) {
      const w = new Worker(START, { workerData: { spec: spec ?? null, cacheDir: getCompileCacheDir() } });
      const slot = { w, busy: 0, dead: null as Error | null };
      w.on('message', (m: { id: number; result?: FetchResult; fail?: string }) => {
        slot.busy--;
        const p = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.fail !== undefined) p?.reject(new Error(m.fail));
        else p?.resolve(m.result!);
      });
      // A worker that dies fails what it held and takes no more work; never a hang.
      const die = (err: Error) => {
        slot.dead ??= err;
        for (const [id, p] of this.waiting)
          if (p.slot === slot) {
            this.waiting.delete(id);
            p.reject(err);
          }
      };
      w.on('error', die);
      w.on('exit', (code) => {
        if (!this.closing) die(new Error(`restore worker thread exited (code ${code})`));
      });
      this.workers.push(slot);
    }
  }

  /** How the workers read objects, before the first job (messages arrive in order). */
  setSpec(spec: ReaderSpec | null): void {
    for (const s of this.workers) if (!s.dead) s.w.postMessage({ spec });
  }

  setCredentials(credentials: Credentials): void {
    for (const s of this.workers) if (!s.dead) s.w.postMessage({ credentials });
  }

  run(job: FetchJob): Promise<FetchResult> {
    const alive = this.workers.filter((s) => !s.dead);
    if (alive.length === 0)
      return Promise.reject(this.workers[0]?.dead ?? new Error('no restore worker threads'));
    const slot = alive.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    slot.busy++;
    // A large body moves to the worker without a copy; a small one (possibly a slice of
    // Node's shared 8 KiB pool) is copied.
    const b = job.body;
    const own = b !== undefined && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;
    const transfer = own && b.byteLength >= 64 * 1024 ? [b.buffer as ArrayBuffer] : [];
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, slot });
      slot.w.postMessage({ id, job }, transfer);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((s) => s.w.terminate()));
  }
}

/** A storage failure a worker reported, as the error the main thread would have thrown. */
export function workerStorageError(key: string, message: string): StorageError {
  return new StorageError('io', message, { key });
}
