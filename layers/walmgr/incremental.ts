// Differential and incremental backups (`walmgr backup --type diff|incr`): a file (or a piece of
// a big file) unchanged since the reference backup is not uploaded again; the new manifest names
// the backup whose object holds it (`ref`, always the backup that stored it, so a chain never
// needs walking: restore fetches each object from where it is and checks its SHA-256 as usual).
//   - diff: the reference is the newest full backup; incr: the newest backup of any type.
//   - Unchanged without reading: same size, same mtime as in the reference manifest, and that
//     mtime older than the reference backup's start by MTIME_MARGIN_MS. The reference recorded
//     the mtime before reading the file, so any write since then (including one during that
//     backup, which could have left a torn page that only the reference's own WAL replay fixes)
//     has set a newer mtime — unless the clock went back or a tool reset mtimes (touch -d,
//     rsync -t). `--checksum` trusts no mtime: every candidate is read and compared by SHA-256
//     (no upload, but the read costs as much as a full backup's).
//   - Unchanged by content: a file with the same size whose mtime cannot be trusted is read and
//     its SHA-256 compared with the reference's; for a file stored in pieces each piece is
//     compared on its own (the same piece size), so a big relation file where one 16 MiB piece
//     changed uploads that piece only — file-level, plus piece-level where we read anyway;
//     PostgreSQL 17's WAL summaries would give block level, this server generation has none.
//   - Unchanged by page LSN (`pageLsnRule`): a piece of a relation's main fork whose every page
//     carries an LSN older than the reference backup's start (its redo point) has had no
//     WAL-logged change since then, so the reference's copy of it is as good as a new one (what
//     pg_probackup's DELTA mode relies on): the piece is still read, but neither hashed nor
//     stored — on a 1 GiB segment where 1 % of the pages changed, SHA-256 of the other 99 % was
//     most of an incremental backup's time (and with the WAL since the reference at hand,
//     wal-window.ts, a piece no record names a page of is not even read). Writes that set no
//     LSN (hint bits) may differ from
//     the reference's copy; such a copy is valid, as a torn hint-bit write is for pg_basebackup.
//     One flag is not a hint: a page marked all-visible (PD_ALL_VISIBLE, set by vacuum with the
//     visibility map's bit) keeps its LSN unless hints are WAL-logged, and a restored page
//     without the flag under a map with the bit keeps the bit through later writes (wrong
//     index-only scans). So the rule alone counts every all-visible page as changed; with the
//     WAL's map (whose visibility records name the page) the named pages count instead.
//     A page that is new (all zero), not a standard page, or of an unlogged relation (LSN 0, or
//     GiST's fake LSNs: those relations are reset from their init fork at the end of recovery
//     anyway) falls back to the SHA-256 comparison. Only when the LSNs are of one history: the
//     same timeline as the reference, and never with `--checksum`.
//   - Page deltas (`pageDelta`): a changed piece of a relation's main fork whose reference copy is
//     known is stored as only its changed pages — those the page-LSN rule cannot vouch for — over
//     a base, the whole copy of the piece in an earlier backup (manifest format 4). A delta's base
//     is never another delta: a piece whose reference is a delta keeps that delta's base and
//     stores the union of both page sets, the current content of each, so restore writes one
//     base and one delta whatever the chain's length. Sound by the same argument as the rule: a
//     page left out carries an LSN older than the reference's start, so it is as it was in the
//     reference, which (by induction) is the base with the reference's own delta pages over it.
//     When more than DELTA_MAX_FRACTION of the piece's pages would go in, the piece is stored
//     whole and becomes a base for later backups. With the WAL since the reference at hand, a
//     piece it names few pages of is read only at those pages (`namedPagesToRead`).
// A reference with another codec or (for pieces) another piece size is not used for those objects.
import os from 'node:os';
import type { Storage } from '../storage/types.ts';
import { WalError } from './errors.ts';
import { manifestKey } from './layout.ts';
import {
  listBackupRefs,
  type Manifest,
  type ManifestFile,
  type ManifestPiece,
  type PageDelta,
  readManifest,
} from './manifest.ts';
import { parseLsn } from './wal.ts';
import { relationOf } from './wal-blocks.ts';

export type BackupType = 'full' | 'diff' | 'incr';

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** A file's mtime must be this much older than the reference backup's start to be trusted. */
export const MTIME_MARGIN_MS = 2000;

export interface Reference {
  manifest: Manifest;
  /** Path → the reference's record of it, with `ref` resolved to the backup holding each object. */
  files: Map<string, ManifestFile>;
  /** Trust size + mtime (false with --checksum). */
  trustMtime: boolean;
}

/**
 * The reference of a diff/incr backup, or null (then a full backup is taken) with the reason;
 * full → null without one.
 */
export async function chooseReference(
  storage: Storage,
  sysid: string,
  type: BackupType,
  codec: string,
  checksum: boolean,
): Promise<{ ref: Reference | null; note?: string }> {
  if (type === 'full') return { ref: null };
  const refs = await listBackupRefs(storage, sysid);
  const manifests: Manifest[] = [];
  // Newest first; a diff needs the newest full one, so read until found.
  for (const r of [...refs].reverse()) {
    const m = await readManifest(storage, r.systemId, r.id);
    if (type === 'incr' || (m.type ?? 'full') === 'full') {
      manifests.push(m);
      break;
    }
  }
  const m = manifests[0];
  if (!m)
    return {
      ref: null,
      note: `no ${type === 'diff' ? 'full ' : ''}backup to refer to: taking a full backup`,
    };
  if (m.codec !== codec)
    return {
      ref: null,
      note: `backup ${m.id} is stored with ${m.codec}, this one uses ${codec}: taking a full backup`,
    };
  const files = new Map<string, ManifestFile>();
  for (const f of m.files) {
    files.set(f.path, {
      ...f,
      ref: f.ref ?? m.id,
      ...(f.pieces ? { pieces: f.pieces.map((p) => ({ ...p, ref: p.ref ?? m.id })) } : {}),
    });
  }
  return { ref: { manifest: m, files, trustMtime: !checksum } };
}

/** Whether the walked file may be taken as unchanged from `prior` without reading it. */
export function unchangedByMtime(
  ref: Reference,
  prior: ManifestFile | undefined,
  f: { size: number; mtime: string },
): prior is ManifestFile {
  return (
    ref.trustMtime &&
    prior !== undefined &&
    prior.size === f.size &&
    prior.mtime === f.mtime &&
    Date.parse(f.mtime) < Date.parse(ref.manifest.startTime) - MTIME_MARGIN_MS
  );
}

/** The other backups a manifest's objects are stored in (what retention must keep with it). */
export function referencedBackups(m: Pick<Manifest, 'id' | 'files'>): string[] {
  const ids = new Set<string>();
  for (const f of m.files) {
    if (f.ref && f.ref !== m.id) ids.add(f.ref);
    for (const p of f.pieces ?? []) {
      if (p.ref && p.ref !== m.id) ids.add(p.ref);
      if (p.pages && p.pages.base.ref !== m.id) ids.add(p.pages.base.ref);
    }
  }
  return [...ids].sort();
}

/**
 * Throws unless every backup m's objects are stored in still has its manifest: an expired or
 * incomplete one may have lost its objects (restore and verify say so before fetching).
 */
export async function checkReferences(storage: Storage, m: Manifest): Promise<void> {
  for (const id of m.references ?? referencedBackups(m)) {
    if (!(await storage.head(manifestKey(m.systemId, id))))
      throw new WalError(
        'corrupt',
        `backup ${m.id} (${m.type ?? 'full'}) refers to files of backup ${id}, which is gone from ${m.systemId} in ${storage.description} (expired or incomplete): restore another backup`,
      );
  }
}

/**
 * A relation's main fork segment (`<relfilenode>` or `<relfilenode>.<n>`) in a database or
 * tablespace directory or global/: files of standard pages whose LSN says when they last
 * changed. Free space maps (`_fsm`, not WAL-logged), visibility maps and init forks are not.
 */
export function isRelationMainFork(p: string): boolean {
  return relationOf(p) !== null;
}

/**
 * The page-LSN rule for this backup, or null when it does not apply: no reference, --checksum,
 * or another timeline than the reference's (LSNs of two histories do not compare).
 */
export function pageLsnRule(
  ref: Reference | null,
  timeline: number,
  startLsn: bigint,
  blockSize: number,
): { before: bigint; blockSize: number } | null {
  if (!ref?.trustMtime || ref.manifest.timeline !== timeline) return null;
  const before = parseLsn(ref.manifest.startLsn);
  if (before > startLsn) return null;
  return { before, blockSize };
}

/**
 * A piece is stored as a page delta only while at most this share of its pages goes in; above
 * it the delta saves little upload, and a whole piece gives later backups a fresh base.
 */
export const DELTA_MAX_FRACTION = 0.5;

/** pd_flags: every tuple on the page is visible to all (bufpage.h); the visibility map's bit needs it. */
const PD_ALL_VISIBLE = 0x0004;

/**
 * The pages of `data` (a piece of a relation main fork, whole pages) that the page-LSN rule
 * cannot take as unchanged since `before`: any page that is not a standard, initialised page
 * with an older LSN, and — `allVisibleChanged`, for the rule without the WAL's map — any page
 * marked all-visible (the mark moves no LSN); `named`: pages the WAL since `before` names
 * (ascending), changed whatever their header says. Page header (bufpage.h): pd_lsn as two u32
 * (high, low) @0, pd_flags u16 @10, pd_upper u16 @14 (0: a new page), pd_pagesize_version u16
 * @18 (block size | layout version 4). Ascending page numbers within the piece.
 */
export function changedPages(
  data: Buffer,
  blockSize: number,
  before: bigint,
  allVisibleChanged = true,
  named: readonly number[] | null = null,
): number[] {
  const out: number[] = [];
  let k = 0; // next of `named` (ascending) not yet passed
  const hiLimit = Number(before >> 32n);
  const loLimit = Number(before & 0xffffffffn);
  const sizeVersion = blockSize | 4;
  const pages = Math.floor(data.length / blockSize);
  // The header's words through one little-endian 32-bit view (a Buffer's readUInt32LE per field
  // was a tenth of a small incremental's CPU): [0] xlogid, [1] xrecoff, [3] pd_lower | pd_upper
  // << 16, [4] pd_special | pd_pagesize_version << 16. A view needs 4-byte alignment.
  const aligned = data.byteOffset % 4 === 0 && LITTLE_ENDIAN;
  const words = aligned ? new Uint32Array(data.buffer, data.byteOffset, data.length >>> 2) : null;
  const perPage = blockSize >>> 2;
  for (let i = 0; i < pages; i++) {
    while (named && k < named.length && named[k]! < i) k++;
    if (named && named[k] === i) {
      out.push(i);
      continue;
    }
    let hi: number;
    let lo: number;
    let flags: number;
    let upper: number;
    let version: number;
    if (words) {
      const w = i * perPage;
      hi = words[w]!;
      lo = words[w + 1]!;
      flags = words[w + 2]! >>> 16;
      upper = words[w + 3]! >>> 16;
      version = words[w + 4]! >>> 16;
    } else {
      const off = i * blockSize;
      hi = data.readUInt32LE(off);
      lo = data.readUInt32LE(off + 4);
      flags = data.readUInt16LE(off + 10);
      upper = data.readUInt16LE(off + 14);
      version = data.readUInt16LE(off + 18);
    }
    const older = (hi !== 0 || lo !== 0) && (hi < hiLimit || (hi === hiLimit && lo < loLimit));
    const allVisible = allVisibleChanged && (flags & PD_ALL_VISIBLE) !== 0;
    if (!older || upper === 0 || version !== sizeVersion || allVisible) out.push(i);
  }
  // A piece that ends inside a page (a file caught mid-extension): that page counts as changed.
  if (data.length % blockSize !== 0) out.push(pages);
  return out;
}

/** Runs [first, count] of ascending, distinct page numbers. */
export function pageRuns(pages: readonly number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const p of pages) {
    const last = runs.at(-1);
    if (last && last[0] + last[1] === p) last[1]++;
    else runs.push([p, 1]);
  }
  return runs;
}

/** The page numbers of runs, ascending. */
export function runPages(runs: readonly (readonly [number, number])[]): number[] {
  const out: number[] = [];
  for (const [first, count] of runs) for (let i = 0; i < count; i++) out.push(first + i);
  return out;
}

/**
 * The page delta that stores piece `data` over `was`'s base, with its body (the pages back to
 * back), or null when the piece is to be stored whole: not whole pages, or more than
 * DELTA_MAX_FRACTION of its pages would go in. `changed`: changedPages() of `data`; `was`: the
 * reference's record of this piece (same size), whole (it becomes the base) or itself a delta
 * (its base is kept and its pages join `changed`).
 */
export function pageDelta(
  data: Buffer,
  was: ManifestPiece & { ref: string },
  changed: readonly number[],
  blockSize: number,
): { pages: PageDelta; body: Buffer } | null {
  const pages = deltaPages(changed, was, data.length, blockSize);
  if (!pages) return null;
  const base = deltaBase(was);
  const runs = pageRuns(pages);
  const body = Buffer.allocUnsafe(pages.length * blockSize);
  let at = 0;
  for (const [first, count] of runs)
    at += data.copy(body, at, first * blockSize, (first + count) * blockSize);
  return { pages: { base, blockSize, runs }, body };
}

/** The whole piece a delta over `was` goes on: `was` itself, or the base of the delta `was` is. */
export function deltaBase(was: ManifestPiece & { ref: string }): PageDelta['base'] {
  if (was.pages) return was.pages.base;
  return {
    ref: was.ref,
    size: was.size,
    storedSize: was.storedSize,
    sha256: was.sha256,
    ...(was.storedSha256 !== undefined ? { storedSha256: was.storedSha256 } : {}),
  };
}

/**
 * The pages to read of a piece the WAL since the reference names pages of (wal-window.ts), to
 * store it as a page delta without reading the rest: the delta's pages (deltaPages) for the
 * named ones; null when the whole piece is to be read as before.
 * Sound by the argument of the WAL window: a page no record of [reference start, start) names
 * was not changed in it, so it is as the reference has it; one changed after the start gets a
 * full-page image in the backup's own WAL, which recovery replays over whatever the backup
 * holds. Every named page goes into the delta, whatever its LSN (`changedPages`, all-visible).
 */
export function namedPagesToRead(
  named: readonly number[],
  was: ManifestPiece,
  pieceLength: number,
  blockSize: number,
): number[] | null {
  return deltaPages(named, was, pieceLength, blockSize);
}

/**
 * The pages a delta over `was` holds for a piece of `pieceLength` whose `changed` pages are
 * known: those and, when `was` is itself a delta, its pages (their current content), ascending.
 * Null when the piece is to be stored whole: not whole pages, a reference delta of another page
 * size, a page past the piece, or more than DELTA_MAX_FRACTION of its pages.
 */
function deltaPages(
  changed: readonly number[],
  was: ManifestPiece,
  pieceLength: number,
  blockSize: number,
): number[] | null {
  if (pieceLength % blockSize !== 0 || (was.pages && was.pages.blockSize !== blockSize)) return null;
  const total = pieceLength / blockSize;
  const pages = was.pages
    ? [...new Set([...changed, ...runPages(was.pages.runs)])].sort((a, b) => a - b)
    : [...changed];
  if (pages.length > total * DELTA_MAX_FRACTION || pages.some((p) => p >= total)) return null;
  return pages;
}
