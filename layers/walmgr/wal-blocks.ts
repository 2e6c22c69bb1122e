// The blocks a stretch of WAL changed, read from its records' generic headers: what an
// incremental backup needs to know to leave unread the pieces of relation files nothing wrote
// to (PostgreSQL 17 keeps this as WAL summaries; 15 and 16 do not). Every WAL record names the
// blocks it modifies in block references (relation, fork, block number) in a format shared by
// all resource managers, so no record's own body needs decoding — except for the few that
// change relation files without naming blocks: a relation file created (smgr create: a new
// relfilenode, or one reused) or truncated (smgr truncate), which this reports as whole
// relations, and database or tablespace records (files copied, moved or dropped as
// directories), for which it gives no answer at all. Records are read from a record boundary
// (a checkpoint's redo point, i.e. a backup's start) up to another; every page header on the
// way is checked (magic, address, continuation flag), so a recycled or foreign segment is
// refused rather than misread.
// Layout (PostgreSQL 15–17, src/include/access/xlogrecord.h, xlog_internal.h): pages of
// XLOG_BLCKSZ with a 24-byte header (40 on a segment's first page); records 8-byte aligned, any
// part of one may continue on the next page after its header; a record is XLogRecord (24 bytes:
// xl_tot_len, xl_xid, xl_prev, xl_info, xl_rmid, 2 padding, xl_crc) followed by headers — block
// headers (id 0–32: fork_flags, data_length, optional image header, optional RelFileNode, block
// number), origin (253), top-level xid (252), and last the main data's length (255 short, 254
// long) — then the blocks' data and the main data.

/** `spc/db/rel` of a relation. */
export type RelKey = string;

export interface WalChanges {
  /** Main-fork blocks named by block references, per relation. */
  blocks: Map<RelKey, Set<number>>;
  /** Relations whose files the WAL changed without naming blocks (created or truncated). */
  whole: Set<RelKey>;
  /** Records read. */
  records: number;
}

/** Why no answer could be given (a missing segment, a database-level change, bad data). */
export class NoWalChanges extends Error {}

const XLP_FIRST_IS_CONTRECORD = 0x0001;
const XLP_LONG_HEADER = 0x0002;
const SHORT_PAGE_HEADER = 24;
const LONG_PAGE_HEADER = 40;
const RECORD_HEADER = 24;
const RM_XLOG_ID = 0;
const RM_SMGR_ID = 2;
const RM_DBASE_ID = 4;
const RM_TBLSPC_ID = 5;
const XLOG_SWITCH = 0x40;
const XLOG_SMGR_CREATE = 0x10;
const XLOG_SMGR_TRUNCATE = 0x20;
const BKPBLOCK_FORK_MASK = 0x0f;
const BKPBLOCK_HAS_IMAGE = 0x10;
const BKPBLOCK_SAME_REL = 0x80;
const BKPIMAGE_HAS_HOLE = 0x01;
const BKPIMAGE_COMPRESSED = 0x04 | 0x08 | 0x10; // pglz, lz4, zstd (15+)
const XLR_MAX_BLOCK_ID = 32;
const MAIN_FORK = 0;

export interface WalChangesOptions {
  /** The first record's LSN (a record boundary: a checkpoint's redo point). */
  from: bigint;
  /** Where to stop (a record boundary too); records from here on are not read. */
  to: bigint;
  segSize: number;
  /** WAL page size (XLOG_BLCKSZ), 8192 unless the server was built otherwise. */
  pageSize: number;
  /**
   * The whole segment `segNo`, or null when it cannot be had. `spare`, when given, is a buffer
   * of a segment this reader is done with, to read into (a fresh 16 MiB per segment made the
   * collector run and the kernel fault every page in).
   */
  segment: (segNo: bigint, spare?: Buffer) => Promise<Buffer | null>;
}

/** Reads the records in [from, to) and collects what they changed; throws NoWalChanges when it cannot. */
export async function walChanges(o: WalChangesOptions): Promise<WalChanges> {
  const out: WalChanges = { blocks: new Map(), whole: new Set(), records: 0 };
  const last: LastRel = { spc: -1, db: -1, rel: -1, set: null };
  if (o.to <= o.from) return out;
  // Positions as plain numbers (exact below 2^53 bytes of WAL): BigInt arithmetic per record
  // made most of the parse's garbage.
  const from = Number(o.from);
  const to = Number(o.to);
  const wal = new WalReader(o, from, to);
  let pos = from;
  for (;;) {
    // Synchronous within loaded segments; a segment not loaded yet is fetched and the step retried.
    let step: number;
    try {
      if (pos >= to) break; // `to` may be where a page starts: its header is not ours to read
      pos = wal.recordStart(pos);
      if (pos >= to) break;
      step = readRecord(wal, pos, out, last);
    } catch (err) {
      if (!(err instanceof NeedSegment)) throw err;
      await wal.load(err.segNo);
      continue;
    }
    pos = step;
  }
  return out;
}

/** Decodes the record at `pos` into `out`; returns where the next one starts. */
function readRecord(wal: WalReader, pos: number, out: WalChanges, last: LastRel): number {
  // The reader's fields say where the bytes are (no result object per read: a cold parse of a
  // few hundred thousand records ran mostly unoptimised, where such garbage costs).
  wal.read(pos, RECORD_HEADER);
  const total = wal.buf.readUInt32LE(wal.at);
  // A record is at most ~1 GiB (XLogRecordMaxSize); a longer length is not a record.
  if (total < RECORD_HEADER || total > 2 ** 30)
    throw new NoWalChanges(`no valid record at ${fmt(pos)} (length ${total})`);
  if (total !== RECORD_HEADER) wal.read(pos, total);
  const { buf, at, end } = wal;
  const info = buf[at + 16]!;
  const rmid = buf[at + 17]!;
  decodeRecord(buf, at, total, pos, out, last);
  if (rmid === RM_DBASE_ID || rmid === RM_TBLSPC_ID)
    throw new NoWalChanges(
      `a ${rmid === RM_DBASE_ID ? 'database' : 'tablespace'} was created, moved or dropped at ${fmt(pos)}`,
    );
  if (rmid === RM_SMGR_ID) smgrRecord(buf, at, total, info, pos, out);
  out.records++;
  // After a segment switch the rest of the segment is unused: the next record starts the next one.
  if (rmid === RM_XLOG_ID && (info & 0xf0) === XLOG_SWITCH) return Math.ceil(end / wal.segSize) * wal.segSize;
  return Math.ceil(end / 8) * 8;
}

const hex = (n: number) => n.toString(16).toUpperCase();
const fmt = (lsn: number) => `${hex(Math.floor(lsn / 2 ** 32))}/${hex(lsn % 2 ** 32)}`;

/**
 * The block set of the relation last named, kept across records: consecutive records mostly
 * name the same relation, and building its key string per block reference was most of the
 * parse's garbage.
 */
interface LastRel {
  spc: number;
  db: number;
  rel: number;
  set: Set<number> | null;
}

function blockSet(out: WalChanges, lastRel: LastRel, spc: number, db: number, rel: number): Set<number> {
  if (lastRel.set && lastRel.spc === spc && lastRel.db === db && lastRel.rel === rel) return lastRel.set;
  const key = `${spc}/${db}/${rel}`;
  let set = out.blocks.get(key);
  if (!set) {
    set = new Set();
    out.blocks.set(key, set);
  }
  lastRel.spc = spc;
  lastRel.db = db;
  lastRel.rel = rel;
  lastRel.set = set;
  return set;
}

/** The block references of the record at `buf[at…at+total)` (DecodeXLogRecord's header walk) into `out`. */
function decodeRecord(
  buf: Buffer,
  at: number,
  total: number,
  pos: number,
  out: WalChanges,
  last: LastRel,
): void {
  const end = at + total;
  let off = at + RECORD_HEADER;
  let dataTotal = 0;
  let spc = -1;
  let db = -1;
  let rel = -1;
  while (end - off > dataTotal) {
    const id = buf[off++]!;
    if (id === 255) {
      dataTotal += buf[off]!; // main data, short: always last
      break;
    }
    if (id === 254) {
      dataTotal += buf.readUInt32LE(off);
      break;
    }
    if (id === 253) {
      off += 2; // replication origin
      continue;
    }
    if (id === 252) {
      off += 4; // top-level transaction id
      continue;
    }
    if (id > XLR_MAX_BLOCK_ID) throw badRecord(pos, `block id ${id}`);
    if (off + 3 > end) throw badRecord(pos, 'block header past its end');
    const forkFlags = buf[off]!;
    dataTotal += buf.readUInt16LE(off + 1);
    off += 3;
    if (forkFlags & BKPBLOCK_HAS_IMAGE) {
      dataTotal += buf.readUInt16LE(off);
      const bimgInfo = buf[off + 4]!;
      off += 5;
      if (bimgInfo & BKPIMAGE_HAS_HOLE && bimgInfo & BKPIMAGE_COMPRESSED) off += 2;
    }
    if (!(forkFlags & BKPBLOCK_SAME_REL)) {
      spc = buf.readUInt32LE(off);
      db = buf.readUInt32LE(off + 4);
      rel = buf.readUInt32LE(off + 8);
      off += 12;
    } else if (rel < 0) throw badRecord(pos, 'BKPBLOCK_SAME_REL on its first block');
    if (off + 4 > end) throw badRecord(pos, 'block number past its end');
    const block = buf.readUInt32LE(off);
    off += 4;
    if ((forkFlags & BKPBLOCK_FORK_MASK) === MAIN_FORK) blockSet(out, last, spc, db, rel).add(block);
  }
  if (off > end) throw badRecord(pos, 'headers longer than the record');
}

function badRecord(pos: number, why: string): NoWalChanges {
  return new NoWalChanges(`record at ${fmt(pos)}: ${why}`);
}

/** smgr create / truncate: the relation's files changed without a block reference. */
function smgrRecord(
  buf: Buffer,
  at: number,
  total: number,
  info: number,
  pos: number,
  out: WalChanges,
): void {
  const kind = info & 0xf0;
  if (kind !== XLOG_SMGR_CREATE && kind !== XLOG_SMGR_TRUNCATE) return;
  // Main data is the record's last bytes: create {rnode, forkNum}, truncate {blkno, rnode, flags}.
  const size = kind === XLOG_SMGR_CREATE ? 16 : 20;
  if (total < RECORD_HEADER + size)
    throw new NoWalChanges(`smgr record at ${fmt(pos)} too short (${total} bytes)`);
  const r = at + total - size + (kind === XLOG_SMGR_CREATE ? 0 : 4);
  out.whole.add(`${buf.readUInt32LE(r)}/${buf.readUInt32LE(r + 4)}/${buf.readUInt32LE(r + 8)}`);
}

/** A read that needs segment `segNo`, which is not loaded yet. */
class NeedSegment extends Error {
  readonly segNo: number;
  constructor(segNo: number) {
    super(`segment ${segNo} needed`);
    this.segNo = segNo;
  }
}

/** The WAL as a stream of record bytes, page headers checked and skipped; reads are synchronous. */
class WalReader {
  readonly segSize: number;
  private readonly o: WalChangesOptions;
  private readonly pageSize: number;
  private readonly from: number;
  private readonly to: number;
  /** Loaded segments: the current one and the one after (a record may continue there). */
  private readonly segs = new Map<number, Buffer>();
  private magic = -1;
  /** A record split over pages is copied here, reused. */
  private scratch = Buffer.alloc(0);
  /** The segment last looked up, and its first LSN. */
  private cur: Buffer = Buffer.alloc(0);
  private curStart = Number.NEGATIVE_INFINITY;
  /** What the last read() made available: bytes from `at` in `buf`, and the LSN after them. */
  buf: Buffer = Buffer.alloc(0);
  at = 0;
  end = 0;

  constructor(o: WalChangesOptions, from: number, to: number) {
    this.o = o;
    this.segSize = o.segSize;
    this.pageSize = o.pageSize;
    this.from = from;
    this.to = to;
  }

  async load(segNo: number): Promise<void> {
    let spare: Buffer | undefined;
    for (const [k, b] of this.segs)
      if (k < segNo - 1) {
        this.segs.delete(k);
        spare = b;
      }
    const buf = await this.o.segment(BigInt(segNo), spare);
    if (!buf)
      throw new NoWalChanges(`WAL segment ${segNo} of [${fmt(this.from)}, ${fmt(this.to)}) is not available`);
    if (buf.length !== this.segSize)
      throw new NoWalChanges(`WAL segment ${segNo} is ${buf.length} bytes, not ${this.segSize}`);
    this.segs.set(segNo, buf);
    this.curStart = Number.NEGATIVE_INFINITY; // a spare read into may be the segment looked up last
  }

  /** The segment holding `lsn` (the last one looked up is kept: most lookups are in it). */
  private segmentOf(lsn: number): Buffer {
    if (lsn >= this.curStart && lsn < this.curStart + this.segSize) return this.cur;
    const segNo = Math.floor(lsn / this.segSize);
    const buf = this.segs.get(segNo);
    if (!buf) throw new NeedSegment(segNo);
    this.cur = buf;
    this.curStart = segNo * this.segSize;
    return buf;
  }

  /** Checks the header of the page starting at `lsn` and returns its length. */
  private header(lsn: number, continuing: boolean): number {
    const buf = this.segmentOf(lsn);
    const at = lsn - this.curStart;
    const magic = buf.readUInt16LE(at);
    const info = buf.readUInt16LE(at + 2);
    const addr = buf.readUInt32LE(at + 12) * 2 ** 32 + buf.readUInt32LE(at + 8);
    if (this.magic < 0) this.magic = magic;
    if ((magic & 0xff00) !== 0xd100 || magic !== this.magic || addr !== lsn)
      throw new NoWalChanges(
        `WAL page at ${fmt(lsn)} is not that page (magic 0x${magic.toString(16)}, address ${fmt(addr)})`,
      );
    if (continuing && !(info & XLP_FIRST_IS_CONTRECORD))
      throw new NoWalChanges(`WAL page at ${fmt(lsn)} does not continue the record before it`);
    const long = at === 0;
    if (long !== Boolean(info & XLP_LONG_HEADER))
      throw new NoWalChanges(`WAL page at ${fmt(lsn)}: long header flag where it does not belong`);
    return long ? LONG_PAGE_HEADER : SHORT_PAGE_HEADER;
  }

  /** `pos`, moved past a page header when it is at a page's start. */
  recordStart(pos: number): number {
    if (pos % this.pageSize !== 0) return pos;
    return pos + this.header(pos, false);
  }

  /**
   * Makes `n` bytes of record from `pos` (never inside a page header) `buf[at…at+n)` — a view of
   * the segment when on one page, else a copy in a scratch buffer valid until the next read —
   * and `end` the LSN after them.
   */
  read(pos: number, n: number): void {
    const seg = this.segmentOf(pos);
    const room = this.pageSize - (pos % this.pageSize);
    if (n <= room) {
      this.buf = seg;
      this.at = pos - this.curStart;
      this.end = pos + n;
      return;
    }
    if (this.scratch.length < n)
      this.scratch = Buffer.allocUnsafe(Math.max(n, 2 * this.scratch.length, 65536));
    const out = this.scratch;
    const first = pos - this.curStart;
    seg.copy(out, 0, first, first + room);
    let got = room;
    let lsn = pos + room;
    while (got < n) {
      const h = this.header(lsn, true);
      const page = this.segmentOf(lsn);
      const at = lsn - this.curStart;
      const take = Math.min(n - got, this.pageSize - h);
      page.copy(out, got, at + h, at + h + take);
      got += take;
      lsn += h + take;
    }
    this.buf = out;
    this.at = 0;
    this.end = lsn;
  }
}

/** The data-directory path of a relation's main-fork file holding `block`, and the block in it. */
export function relationFile(
  rel: RelKey,
  block: number,
  segBlocks: number,
  versionDir: string,
): { path: string; block: number } {
  const [spc, db, relNode] = rel.split('/');
  const seg = Math.floor(block / segBlocks);
  const base =
    spc === '1663'
      ? `base/${db}/${relNode}`
      : spc === '1664'
        ? `global/${relNode}`
        : `pg_tblspc/${spc}/${versionDir}/${db}/${relNode}`;
  return { path: seg === 0 ? base : `${base}.${seg}`, block: block % segBlocks };
}

/** The relation (`spc/db/rel`) of a main-fork file path, or null for anything else. */
export function relationOf(filePath: string): RelKey | null {
  let m = /^base\/(\d+)\/(\d+)(?:\.\d+)?$/.exec(filePath);
  if (m) return `1663/${m[1]}/${m[2]}`;
  m = /^global\/(\d+)(?:\.\d+)?$/.exec(filePath);
  if (m) return `1664/0/${m[1]}`;
  m = /^pg_tblspc\/(\d+)\/PG_[^/]+\/(\d+)\/(\d+)(?:\.\d+)?$/.exec(filePath);
  if (m) return `${m[1]}/${m[2]}/${m[3]}`;
  return null;
}
