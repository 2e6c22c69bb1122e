// Which pages of which relation files the WAL between an incremental backup's reference and its
// own start changed (wal-blocks.ts over the segments of that window), so that a piece of a
// relation file nothing wrote to is referred to without being read. The segments come from the
// server's pg_wal when they are still there (the file's own header is checked: a recycled one
// carries another address), else from the repository, checked as restore checks them. No
// answer — the page-LSN rule then reads every piece as before — when a segment cannot be had,
// a database or tablespace changed, or the window holds more WAL than the bytes it could spare
// reading (reading WAL costs about what reading data does).
// Sound by the page-LSN rule's argument (incremental.ts): a page no record of [reference start,
// start) names was not WAL-logged since the reference began, so the reference's copy is as good
// as a new one; a relation the WAL changed without naming blocks (created, truncated) is read
// whole. The pages it names are stored whatever their LSN (a vacuum's all-visible mark moves
// none); the page-LSN rule adds the pages it cannot vouch for. Writes that name no block (hint
// bits) and unlogged relations are as for that rule.
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Storage } from '../storage/types.ts';
import { fetchWal } from './restore-wal.ts';
import { checkSegment, parseWalName, segmentName } from './wal.ts';
import { NoWalChanges, type RelKey, relationFile, relationOf, walChanges } from './wal-blocks.ts';

export interface WalWindow {
  /** Changed pages of a relation main-fork file (by path), per piece: page numbers within the piece. */
  pages(filePath: string, piece: number): readonly number[];
  /** True when the WAL changed the file's relation without naming blocks: read it all. */
  whole(filePath: string): boolean;
  /** Segments read, and from where. */
  readonly note: string;
}

/**
 * The segments of the window still in pg_wal, held open: the checkpoint of pg_backup_start lets
 * the server remove or recycle every segment before its redo point — the whole window — and an
 * open file keeps its content readable (a recycled one is written over only when WAL reaches its
 * new name; its page addresses then say so). Taken just before pg_backup_start.
 */
export class HeldWal {
  private readonly fds = new Map<string, number>();

  constructor(pgdata: string, timeline: number, from: bigint, segSize: number) {
    const first = segmentName(timeline, from / BigInt(segSize), segSize);
    const tli = first.slice(0, 8);
    let names: string[] = [];
    try {
      names = fsSync.readdirSync(path.join(pgdata, 'pg_wal'));
    } catch {
      return; // no pg_wal to read (the caller reads from the repository)
    }
    for (const name of names.sort()) {
      if (!/^[0-9A-F]{24}$/.test(name) || !name.startsWith(tli) || name < first) continue;
      if (this.fds.size >= MAX_HELD) break;
      try {
        this.fds.set(name, fsSync.openSync(path.join(pgdata, 'pg_wal', name), 'r'));
      } catch {
        // removed meanwhile, or no file descriptor left: read later by name or from the repository
      }
    }
  }

  /** The whole segment `name` from its held file (into `into` when it fits); null when not held. */
  read(name: string, segSize: number, into?: Buffer): Promise<Buffer | null> | null {
    const fd = this.fds.get(name);
    return fd === undefined ? null : readWhole(fd, segSize, into);
  }

  /**
   * Closes the files in the thread pool: closing the last handle of a segment the checkpoint
   * removed frees its pages, ~13 ms of the main thread for a five-segment window.
   */
  close(): void {
    for (const fd of this.fds.values()) fsSync.close(fd, () => {});
    this.fds.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** `size` bytes of file `fd` from its start, into `into` when it is that size; null if shorter. */
async function readWhole(fd: number, size: number, into?: Buffer): Promise<Buffer | null> {
  const buf = into?.length === size ? into : Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const n = await new Promise<number>((resolve, reject) =>
      fsSync.read(fd, buf, got, size - got, got, (err, bytes) => (err ? reject(err) : resolve(bytes))),
    );
    if (n === 0) return null;
    got += n;
  }
  return buf;
}

/** A segment file of pg_wal not held open (written after the hold began). */
async function readLocal(file: string, size: number, into?: Buffer): Promise<Buffer | null> {
  const fh = await fs.open(file, 'r');
  try {
    return await readWhole(fh.fd, size, into);
  } finally {
    await fh.close();
  }
}

/**
 * Segments held open at most: 4 GiB of 16 MiB segments, well inside the usual limit of 1024 open
 * files (the window's budget, `candidateBytes`, rarely lets more be read anyway).
 */
const MAX_HELD = 256;

export interface WalWindowOptions {
  /** pg_wal's segments of the window, held open before pg_backup_start. */
  held?: HeldWal | null;
  pgdata: string;
  storage: Storage;
  sysid: string;
  timeline: number;
  /** The reference backup's start and this one's (record boundaries). */
  from: bigint;
  to: bigint;
  segSize: number;
  walPageSize: number;
  /** Blocks per relation file segment (`segment_size`). */
  segBlocks: number;
  blockSize: number;
  pieceSize: number;
  versionDir: string;
  /** Bytes of relation main-fork pieces the window could spare reading. */
  candidateBytes: number;
}

/** The window's changes, or null with the reason when the page-LSN rule has to read everything. */
export async function walWindow(o: WalWindowOptions): Promise<{ window: WalWindow | null; note: string }> {
  const seg = BigInt(o.segSize);
  const segments = Number(o.to / seg - o.from / seg) + 1;
  const walBytes = segments * o.segSize;
  if (walBytes > o.candidateBytes)
    return {
      window: null,
      note: `${segments} WAL segment(s) since the reference: more to read than the ${(o.candidateBytes / 1048576).toFixed(0)} MiB of relation pieces they could spare; reading their page LSNs instead`,
    };
  let local = 0;
  let fetched = 0;
  const last = o.to / seg;
  /** The segment from pg_wal, checked; null when it is not there as itself. Never throws. */
  const fromPgWal = async (segNo: bigint, into?: Buffer): Promise<Buffer | null> => {
    const name = segmentName(o.timeline, segNo, o.segSize);
    try {
      const buf =
        (await o.held?.read(name, o.segSize, into)) ??
        (await readLocal(path.join(o.pgdata, 'pg_wal', name), o.segSize, into));
      if (!buf) return null;
      checkSegment(buf, parseWalName(name), o.sysid);
      return buf;
    } catch {
      return null; // gone (recycled or removed after a checkpoint), or another segment's bytes under its name
    }
  };
  // The next segment is read (in the thread pool) while this one is parsed.
  const ahead = new Map<bigint, Promise<Buffer | null>>();
  const segment = async (segNo: bigint, spare?: Buffer): Promise<Buffer | null> => {
    // The parse runs alongside the backup's other work (backup.ts): between segments, let the
    // I/O that finished meanwhile be handled (an await alone would only run microtasks).
    await new Promise((r) => setImmediate(r));
    const reading = ahead.get(segNo) ?? fromPgWal(segNo);
    ahead.delete(segNo);
    // The buffer the reader is done with takes the next segment.
    if (segNo + 1n <= last && !ahead.has(segNo + 1n)) ahead.set(segNo + 1n, fromPgWal(segNo + 1n, spare));
    const fromDisk = await reading;
    if (fromDisk) {
      local++;
      return fromDisk;
    }
    try {
      const buf = await fetchWal(o.storage, o.sysid, parseWalName(segmentName(o.timeline, segNo, o.segSize)));
      if (buf) fetched++;
      return buf;
    } catch {
      return null; // corrupt in the repository: no answer from the WAL
    }
  };
  let changes: Awaited<ReturnType<typeof walChanges>>;
  try {
    changes = await walChanges({
      from: o.from,
      to: o.to,
      segSize: o.segSize,
      pageSize: o.walPageSize,
      segment,
    });
  } catch (err) {
    if (err instanceof NoWalChanges)
      return { window: null, note: `${err.message}; reading page LSNs instead` };
    throw err;
  }
  // file path → piece → page numbers in the piece
  const byFile = new Map<string, Map<number, number[]>>();
  const pagesPerPiece = Math.floor(o.pieceSize / o.blockSize);
  for (const [rel, blocks] of changes.blocks) {
    for (const b of blocks) {
      const f = relationFile(rel, b, o.segBlocks, o.versionDir);
      const piece = Math.floor(f.block / pagesPerPiece);
      let pieces = byFile.get(f.path);
      if (!pieces) {
        pieces = new Map();
        byFile.set(f.path, pieces);
      }
      const list = pieces.get(piece);
      if (list) list.push(f.block - piece * pagesPerPiece);
      else pieces.set(piece, [f.block - piece * pagesPerPiece]);
    }
  }
  for (const pieces of byFile.values()) for (const list of pieces.values()) list.sort((a, b) => a - b);
  const whole: Set<RelKey> = changes.whole;
  const note = `${changes.records} WAL record(s) in ${segments} segment(s) since the reference (${local} from pg_wal, ${fetched} from the repository)`;
  return {
    note,
    window: {
      note,
      pages: (filePath, piece) => byFile.get(filePath)?.get(piece) ?? [],
      whole: (filePath) => {
        const rel = relationOf(filePath);
        return rel === null || whole.has(rel);
      },
    },
  };
}
