// `walmgr archive %p %f`: stores one WAL file and, in the same call, the next `.ready` files
// ("archive ahead"), leaving a marker for each of those so the following calls return
// at once (spool.ts, archive-fast.sh). Success is reported only for a file whose object is
// durable in storage with the same SHA-256: an object that exists with other content is
// refused, never overwritten.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Storage } from '../storage/types.ts';
import { type Codec, compress, sha256 } from './codec.ts';
import { WalError } from './errors.ts';
import { META, walKey } from './layout.ts';
import { readAt } from './read-at.ts';
import { fileStamp, writeMarker } from './spool.ts';
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
  /** How many further .ready files to store in this call (0: only %f). */
  ahead: number;
  log?: (msg: string) => void;
}

export interface ArchiveResult {
  status: 'stored' | 'already';
  aheadStored: number;
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
  const before = await compare();
  if (before) return before;
  const body = await compress(codec, data);
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

async function pool<T>(
  items: T[],
  width: number,
  fn: (item: T, scratch: ReadBuffer) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    const scratch = new ReadBuffer();
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item, scratch);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(width, items.length)) }, worker));
}

export async function archiveWal(opts: ArchiveOptions): Promise<ArchiveResult> {
  const wal = parseWalName(opts.walName);
  const walFile = path.resolve(opts.pgdata, opts.walPath);
  const controlSysid = readSystemId(opts.pgdata);
  const sysidOf = async (file: string, w: WalName): Promise<string> => {
    if (w.kind === 'segment' || w.kind === 'partial') {
      if (controlSysid) return controlSysid; // checkSegment() then compares it with the page header
      const fh = await fs.open(file, 'r').catch((err: Error) => {
        throw new WalError(
          'io',
          `cannot open WAL file ${file}: ${err.message}; archive_command must run in the data directory (or pass --pgdata)`,
          {
            cause: err,
          },
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
        `cannot read the system identifier from ${path.join(opts.pgdata, 'global/pg_control')}; run in PGDATA or pass --pgdata`,
      );
    }
    return controlSysid;
  };
  const fault = process.env.SKYTOOLS_WALMGR_FAULT;

  // Collect the ahead candidates before uploading, so the current file starts at once.
  let ahead: string[] = [];
  if (opts.ahead > 0) {
    const statusDir = path.join(path.dirname(walFile), 'archive_status');
    const names = await fs.readdir(statusDir).catch(() => [] as string[]);
    ahead = names
      .filter((n) => n.endsWith('.ready'))
      .map((n) => n.slice(0, -'.ready'.length))
      .filter((n) => n !== wal.name)
      .sort(readyOrder)
      .slice(0, opts.ahead);
  }

  let current: StoreStatus | undefined;
  let currentErr: unknown;
  let aheadStored = 0;
  const jobs = [wal.name, ...ahead];
  await pool(jobs, opts.parallel, async (name, scratch) => {
    if (name === wal.name) {
      try {
        const sysid = await sysidOf(walFile, wal);
        current = await storeWalFile(
          opts.storage,
          walFile,
          wal,
          sysid,
          opts.codec,
          () => {
            if (fault === 'crash-after-upload') process.kill(process.pid, 'SIGKILL');
          },
          scratch,
        );
      } catch (err) {
        currentErr = err;
      }
      return;
    }
    const file = path.join(path.dirname(walFile), name);
    try {
      const w = parseWalName(name);
      const st = await fs.stat(file);
      await storeWalFile(opts.storage, file, w, await sysidOf(file, w), opts.codec, undefined, scratch);
      await writeMarker(opts.spool, name, fileStamp(st), { key: name, at: new Date().toISOString() });
      aheadStored++;
    } catch (err) {
      // The archiver will call us for this file later and report the error then.
      opts.log?.(`archive ahead of ${name} skipped: ${(err as Error).message}`);
    }
  });
  if (currentErr) throw currentErr;
  return { status: current!, aheadStored };
}
