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
//     most of an incremental backup's time. Writes that set no LSN (hint bits) may differ from
//     the reference's copy; such a copy is valid, as a torn hint-bit write is for pg_basebackup.
//     A page that is new (all zero), not a standard page, or of an unlogged relation (LSN 0, or
//     GiST's fake LSNs: those relations are reset from their init fork at the end of recovery
//     anyway) falls back to the SHA-256 comparison. Only when the LSNs are of one history: the
//     same timeline as the reference, and never with `--checksum`.
// A reference with another codec or (for pieces) another piece size is not used for those objects.
import type { Storage } from '../storage/types.ts';
import { WalError } from './errors.ts';
import { manifestKey } from './layout.ts';
import { listBackupRefs, type Manifest, type ManifestFile, readManifest } from './manifest.ts';
import { parseLsn } from './wal.ts';

export type BackupType = 'full' | 'diff' | 'incr';

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
    for (const p of f.pieces ?? []) if (p.ref && p.ref !== m.id) ids.add(p.ref);
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
  return /^(base\/\d+|global|pg_tblspc\/\d+\/PG_[^/]+\/\d+)\/\d+(\.\d+)?$/.test(p);
}

/**
 * Whether every page of `data` (a piece of a relation main fork, from a page boundary) is a
 * standard, initialised page whose LSN is older than `before`: `data` must be whole pages of
 * `blockSize` bytes; page header (bufpage.h): pd_lsn as two u32 (high, low) @0, pd_upper u16 @14
 * (0: a new page), pd_pagesize_version u16 @18 (block size | layout version 4).
 */
export function pagesOlderThan(data: Buffer, blockSize: number, before: bigint): boolean {
  if (data.length === 0 || data.length % blockSize !== 0) return false;
  const hiLimit = Number(before >> 32n);
  const loLimit = Number(before & 0xffffffffn);
  const sizeVersion = blockSize | 4;
  for (let off = 0; off < data.length; off += blockSize) {
    const hi = data.readUInt32LE(off);
    const lo = data.readUInt32LE(off + 4);
    if (hi === 0 && lo === 0) return false;
    if (hi > hiLimit || (hi === hiLimit && lo >= loLimit)) return false;
    if (data.readUInt16LE(off + 14) === 0 || data.readUInt16LE(off + 18) !== sizeVersion) return false;
  }
  return true;
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
