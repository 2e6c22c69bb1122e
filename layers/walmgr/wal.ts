// WAL file names and the checks walmgr makes on WAL content before storing and after fetching:
// the segment's first (long) page header must name the same timeline, segment address, system
// and segment size as the file name and the cluster say. Layout (PostgreSQL 14–18,
// XLogLongPageHeaderData): magic u16 @0, info u16 @2, tli u32 @4, pageaddr u64 @8,
// rem_len u32 @16, sysid u64 @24, seg_size u32 @32, xlog_blcksz u32 @36.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WalError } from './errors.ts';

export type WalKind = 'segment' | 'partial' | 'history' | 'backup';

export interface WalName {
  name: string;
  kind: WalKind;
  /** Timeline the name belongs to. */
  tli: number;
  /** For segment/partial/backup: the 24-hex segment part. */
  segment?: string;
}

const SEG = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

export function parseWalName(name: string): WalName {
  let m = /^([0-9A-F]{24})(\.partial)?$/.exec(name);
  if (m)
    return {
      name,
      kind: m[2] ? 'partial' : 'segment',
      tli: Number.parseInt(name.slice(0, 8), 16),
      segment: m[1]!,
    };
  m = /^([0-9A-F]{24})\.[0-9A-F]{8}\.backup$/.exec(name);
  if (m) return { name, kind: 'backup', tli: Number.parseInt(name.slice(0, 8), 16), segment: m[1]! };
  m = /^([0-9A-F]{8})\.history$/.exec(name);
  if (m) return { name, kind: 'history', tli: Number.parseInt(m[1]!, 16) };
  throw new WalError(
    'invalid',
    `${JSON.stringify(name)} is not a WAL file name (expected 24 hex digits, optionally .partial, a .backup label or a TTTTTTTT.history file); pass %f as the file name`,
  );
}

/** Segment number of a 24-hex segment name for a given segment size. */
export function segmentNumber(segment: string, segSize: number): bigint {
  const m = SEG.exec(segment);
  if (!m) throw new WalError('invalid', `${segment} is not a WAL segment name`);
  const perId = 0x100000000n / BigInt(segSize);
  return BigInt(`0x${m[2]}`) * perId + BigInt(`0x${m[3]}`);
}

export function segmentName(tli: number, segNo: bigint, segSize: number): string {
  const perId = 0x100000000n / BigInt(segSize);
  const hex = (v: bigint | number) => v.toString(16).toUpperCase().padStart(8, '0');
  return hex(tli) + hex(segNo / perId) + hex(segNo % perId);
}

/** Parses an LSN like '0/3000028'. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!m) throw new WalError('invalid', `${JSON.stringify(lsn)} is not an LSN (expected e.g. 0/3000028)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export interface SegmentHeader {
  magic: number;
  tli: number;
  pageAddr: bigint;
  sysid: string;
  segSize: number;
  blockSize: number;
}

const XLP_LONG_HEADER = 0x0002;

export function readSegmentHeader(buf: Buffer): SegmentHeader {
  if (buf.length < 40)
    throw new WalError('corrupt', `WAL data is ${buf.length} bytes, too short for a page header`);
  return {
    magic: buf.readUInt16LE(0),
    tli: buf.readUInt32LE(4),
    pageAddr: buf.readBigUInt64LE(8),
    sysid: buf.readBigUInt64LE(24).toString(),
    segSize: buf.readUInt32LE(32),
    blockSize: buf.readUInt32LE(36),
  };
}

/**
 * Checks that `buf` is the complete WAL segment `name` (or its .partial) of system `sysid`
 * (when known). Throws WalError('corrupt') naming the first mismatch.
 */
export function checkSegment(buf: Buffer, wal: WalName, sysid?: string): SegmentHeader {
  return checkSegmentHead(buf, buf.length, wal, sysid);
}

/**
 * The same check from the file's first bytes (at least the 40 of the long page header) and its
 * length: for a segment that is written as it is decompressed (restore-wal's prefetch).
 */
export function checkSegmentHead(head: Buffer, length: number, wal: WalName, sysid?: string): SegmentHeader {
  const where = `WAL file ${wal.name}`;
  const h = readSegmentHeader(head);
  const info = head.readUInt16LE(2);
  if ((h.magic & 0xff00) !== 0xd100) {
    throw new WalError(
      'corrupt',
      `${where}: page magic 0x${h.magic.toString(16)} is not a PostgreSQL WAL page magic (0xD1xx); the file is not WAL`,
    );
  }
  if (!(info & XLP_LONG_HEADER))
    throw new WalError(
      'corrupt',
      `${where}: first page lacks the long header; the file does not start at a segment boundary`,
    );
  if (h.segSize < 1 << 20 || h.segSize > 1 << 30 || (h.segSize & (h.segSize - 1)) !== 0) {
    throw new WalError(
      'corrupt',
      `${where}: header segment size ${h.segSize} is not a power of two between 1 MiB and 1 GiB`,
    );
  }
  if (length !== h.segSize) {
    throw new WalError(
      'corrupt',
      `${where}: file is ${length} bytes but its header says segments are ${h.segSize} bytes`,
    );
  }
  const expectAddr = segmentNumber(wal.segment!, h.segSize) * BigInt(h.segSize);
  if (h.pageAddr !== expectAddr) {
    throw new WalError(
      'corrupt',
      `${where}: first page address ${fmtLsn(h.pageAddr)} does not match the name (expected ${fmtLsn(expectAddr)}); the file holds another segment`,
    );
  }
  // The first segment of a new timeline starts as a copy of the old one, so its first page
  // may carry an older timeline; a newer one never appears.
  if (h.tli === 0 || h.tli > wal.tli) {
    throw new WalError(
      'corrupt',
      `${where}: page header timeline ${h.tli} does not fit the name's timeline ${wal.tli}`,
    );
  }
  if (sysid && h.sysid !== sysid) {
    throw new WalError(
      'corrupt',
      `${where}: belongs to database system ${h.sysid}, not to this cluster's ${sysid}`,
    );
  }
  return h;
}

export function fmtLsn(v: bigint): string {
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** System identifier from PGDATA/global/pg_control (first 8 bytes), or null when unreadable. */
export function readSystemId(pgdata: string): string | null {
  try {
    const buf = readFileSync(path.join(pgdata, 'global', 'pg_control'));
    return buf.readBigUInt64LE(0).toString();
  } catch {
    return null;
  }
}
