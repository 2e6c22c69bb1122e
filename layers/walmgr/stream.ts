// `walmgr stream`: PostgreSQL's own pg_receivewal streams WAL (through a replication slot) into
// a local directory; every interval the segment in progress (`<segment>.partial`) is uploaded
// to the repository under that name — compressed and checksummed like `archive`, replacing the
// previous upload of the same `.partial` (only `.partial` objects are ever overwritten) — and
// completed segments go through the normal archive path (same content → success, other
// content → refused). The partial of a segment is deleted from storage once the segment itself
// is stored. restore-wal uses a partial only when asked (`--use-partial`), see restore-wal.ts.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Storage } from '../storage/types.ts';
import { storeWalFile } from './archive.ts';
import { type Codec, compress, sha256 } from './codec.ts';
import { WalError } from './errors.ts';
import { META, walKey } from './layout.ts';
import { checkSegment, parseWalName, type WalName } from './wal.ts';

const run = promisify(execFile);

/** Object metadata: bytes of the partial up to its last non-zero byte (how far streaming got). */
export const META_STREAM_END = 'stream-end';

const DEBIAN_BIN = '/usr/lib/postgresql/15/bin';

/** pg_receivewal from `pgBin`, else PATH, else the Debian postgresql-15 location. */
export function findReceivewal(pgBin?: string): string {
  const tried: string[] = [];
  const dirs = pgBin
    ? [pgBin]
    : [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), DEBIAN_BIN];
  for (const d of dirs) {
    const f = path.join(d, 'pg_receivewal');
    tried.push(f);
    if (existsSync(f)) return f;
  }
  throw new WalError(
    'invalid',
    `pg_receivewal not found (tried ${tried.join(', ')}); install the PostgreSQL client binaries (Debian: postgresql-15 or postgresql-client-15) or pass --pg-bin <dir>`,
  );
}

export interface StreamOptions {
  storage: Storage;
  /** Local directory pg_receivewal writes into (created when missing). */
  dir: string;
  /** Connection string for pg_receivewal (-d); empty: PG* environment variables. */
  db?: string;
  slot: string;
  codec: Codec;
  intervalMs: number;
  receivewal: string;
  /** Resolves when streaming should stop (SIGTERM). */
  stop: Promise<void>;
  log: (msg: string) => void;
}

export interface StreamStats {
  partialUploads: number;
  segmentsStored: number;
}

/** Offset after the last non-zero byte: how much of a zero-padded .partial holds WAL. */
export function dataEnd(buf: Buffer): number {
  let i = buf.length;
  while (i > 0 && buf[i - 1] === 0) i--;
  return i;
}

function sysidOf(buf: Buffer): string {
  return buf.readBigUInt64LE(24).toString();
}

/** Uploads one completed segment (archive semantics) and removes its stale .partial object. */
async function storeCompleted(opts: StreamOptions, file: string, wal: WalName): Promise<void> {
  const head = Buffer.alloc(40);
  const fh = await fs.open(file, 'r');
  try {
    await fh.read(head, 0, 40, 0);
  } finally {
    await fh.close();
  }
  const sysid = sysidOf(head);
  const status = await storeWalFile(opts.storage, file, wal, sysid, opts.codec);
  opts.log(`${wal.name}: ${status === 'stored' ? 'stored' : 'already stored'}`);
  await opts.storage.delete(walKey(sysid, parseWalName(`${wal.name}.partial`)));
}

/** Uploads the .partial when its content changed since `last`; returns the new checksum. */
async function uploadPartial(opts: StreamOptions, file: string, wal: WalName, last: string | undefined) {
  const data = await fs.readFile(file);
  const sum = sha256(data);
  if (sum === last) return last;
  const sysid = sysidOf(data);
  try {
    checkSegment(data, wal);
  } catch (err) {
    // pg_receivewal pre-allocates the file with zeros: no header yet means nothing to keep.
    if (dataEnd(data) === 0) return last;
    throw err;
  }
  const end = dataEnd(data);
  await opts.storage.put(walKey(sysid, wal), await compress(opts.codec, data), {
    metadata: {
      [META.sha256]: sum,
      [META.size]: String(data.length),
      [META.codec]: opts.codec,
      [META.sysid]: sysid,
      [META.name]: wal.name,
      [META_STREAM_END]: String(end),
    },
  });
  opts.log(`${wal.name}: uploaded (${end} bytes of WAL)`);
  return sum;
}

/**
 * One pass over the stream directory: completed segments first (in order), then the partial.
 * Completed segments except the newest are removed locally after storing (pg_receivewal
 * resumes from the newest file it finds).
 */
async function sweep(opts: StreamOptions, state: { partialSums: Map<string, string>; stats: StreamStats }) {
  const names = (await fs.readdir(opts.dir)).sort();
  const done = names.filter((n) => /^[0-9A-F]{24}$/.test(n));
  for (const n of done) {
    const stamp = path.join(opts.dir, `.${n}.stored`);
    if (!existsSync(stamp)) {
      await storeCompleted(opts, path.join(opts.dir, n), parseWalName(n));
      await fs.writeFile(stamp, '');
      state.stats.segmentsStored++;
    }
  }
  for (const n of done.slice(0, -1)) {
    await fs.rm(path.join(opts.dir, n), { force: true });
    await fs.rm(path.join(opts.dir, `.${n}.stored`), { force: true });
  }
  for (const n of names.filter((x) => /^[0-9A-F]{24}\.partial$/.test(x))) {
    const sum = await uploadPartial(
      opts,
      path.join(opts.dir, n),
      parseWalName(n),
      state.partialSums.get(n),
    ).catch((err: Error & { code?: string }) => {
      if (err.code === 'ENOENT') return state.partialSums.get(n); // completed meanwhile
      throw err;
    });
    if (sum && sum !== state.partialSums.get(n)) {
      state.partialSums.set(n, sum);
      state.stats.partialUploads++;
    }
  }
}

function connArgs(db?: string): string[] {
  return db ? ['-d', db] : [];
}

/** Runs until `stop` resolves (or pg_receivewal fails); always ends with a final upload. */
export async function streamWal(opts: StreamOptions): Promise<StreamStats> {
  await fs.mkdir(opts.dir, { recursive: true });
  try {
    await run(opts.receivewal, [...connArgs(opts.db), '-S', opts.slot, '--create-slot', '--if-not-exists']);
  } catch (err) {
    throw new WalError(
      'io',
      `pg_receivewal --create-slot ${opts.slot} failed: ${((err as { stderr?: string }).stderr || (err as Error).message).trim()}`,
      { cause: err },
    );
  }
  const state = { partialSums: new Map<string, string>(), stats: { partialUploads: 0, segmentsStored: 0 } };
  const child: ChildProcess = spawn(
    opts.receivewal,
    [...connArgs(opts.db), '-D', opts.dir, '-S', opts.slot, '-s', '1', '--no-loop'],
    { stdio: ['ignore', 'inherit', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    opts.log(`pg_receivewal: ${d.toString().trimEnd()}`);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => resolve(signal ? null : code));
    child.on('error', (err) => {
      stderr += err.message;
      resolve(-1);
    });
  });
  let stopping = false;
  const stopped = opts.stop.then(() => {
    stopping = true;
  });
  let failure: Error | undefined;
  try {
    for (;;) {
      const which = await Promise.race([
        exited.then(() => 'exit' as const),
        stopped.then(() => 'stop' as const),
        new Promise<'tick'>((r) => setTimeout(() => r('tick'), opts.intervalMs)),
      ]);
      if (which === 'tick') {
        await sweep(opts, state).catch((err: Error) => opts.log(`upload failed (retrying): ${err.message}`));
        continue;
      }
      if (which === 'exit' && !stopping) {
        failure = new WalError(
          'io',
          `pg_receivewal exited unexpectedly: ${stderr.trim() || `exit ${await exited}`}`,
        );
      }
      break;
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGINT: pg_receivewal finishes the current write and exits cleanly.
      child.kill('SIGINT');
      await exited;
    }
  }
  // Final upload: everything pg_receivewal wrote before it stopped.
  await sweep(opts, state);
  opts.log(
    `stopped: ${state.stats.partialUploads} partial uploads, ${state.stats.segmentsStored} segments stored`,
  );
  if (failure) throw failure;
  return state.stats;
}
