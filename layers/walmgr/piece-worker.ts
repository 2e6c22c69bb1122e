// Worker threads for restore's CPU work: decompress a fetched object, check its size and
// SHA-256, write it into the data directory. The main thread then only does HTTP; measured
// on a 1 GiB restore, decompression, hashing and the garbage they make took ~30 % of the main
// thread, which was the bottleneck. Used by fetch-backup.ts when asked for (the Lambda bundles
// never start workers: they cannot load this file by URL).

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { decompressSync } from './codec.ts';

export interface PieceJob {
  /** Compressed bytes (transferred when large). */
  body: Uint8Array;
  codec: string;
  /** Expected uncompressed size and SHA-256. */
  size: number;
  sha256: string;
  /** Where to write when the check passes; null: only check. */
  dest: string | null;
  /** Write at this offset of an existing file (pieces), or create the file whole (-1). */
  offset: number;
  mode: number;
}

export interface PieceResult {
  size: number;
  sha256: string;
  /** Decompression error message, when it failed. */
  error?: string;
}

/** The work itself; runs in a worker (or inline, in tests). */
export function runPieceJob(job: PieceJob): PieceResult {
  let data: Buffer;
  try {
    data = decompressSync(job.codec, job.body, job.size);
  } catch (err) {
    return { size: -1, sha256: '', error: (err as Error).message };
  }
  const sum = createHash('sha256').update(data).digest('hex');
  if (data.length === job.size && sum === job.sha256 && job.dest) {
    if (job.offset < 0) fs.writeFileSync(job.dest, data, { mode: job.mode });
    else {
      const fd = fs.openSync(job.dest, 'r+');
      try {
        let off = 0;
        while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off, job.offset + off);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  return { size: data.length, sha256: sum };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', (msg: { id: number; job: PieceJob }) => {
    try {
      port.postMessage({ id: msg.id, result: runPieceJob(msg.job) });
    } catch (err) {
      port.postMessage({ id: msg.id, fail: (err as Error).message });
    }
  });
}

/** A fixed set of workers taking jobs round-robin by least outstanding work. */
export class PieceWorkers {
  private readonly workers: { w: Worker; busy: number; dead: Error | null }[] = [];
  private readonly waiting = new Map<
    number,
    { resolve: (r: PieceResult) => void; reject: (e: Error) => void; slot: object }
  >();
  private nextId = 0;
  private closing = false;

  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const w = new Worker(new URL(import.meta.url));
      const slot = { w, busy: 0, dead: null as Error | null };
      w.on('message', (m: { id: number; result?: PieceResult; fail?: string }) => {
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

  run(job: PieceJob): Promise<PieceResult> {
    const alive = this.workers.filter((s) => !s.dead);
    if (alive.length === 0)
      return Promise.reject(this.workers[0]?.dead ?? new Error('no restore worker threads'));
    const slot = alive.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    slot.busy++;
    // Large bodies move to the worker without a copy; small ones (possibly slices of Node's
    // shared 8 KiB pool) are copied.
    const own = job.body.byteOffset === 0 && job.body.byteLength === job.body.buffer.byteLength;
    const transfer = own && job.body.byteLength >= 64 * 1024 ? [job.body.buffer as ArrayBuffer] : [];
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
