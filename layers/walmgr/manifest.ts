// The backup manifest: everything restore and verify need, written last.
import type { Storage } from '../storage/types.ts';
import { WalError } from './errors.ts';
import { manifestKey } from './layout.ts';

export interface ManifestFile {
  /** Path relative to PGDATA, '/'-separated. */
  path: string;
  size: number;
  /** SHA-256 of the whole file; '' for a file stored in pieces (each piece has its own). */
  sha256: string;
  mode: number;
  mtime: string;
  /** Stored (compressed) size; for pieces, their sum. */
  storedSize: number;
  /**
   * Format 3: SHA-256 of the stored (compressed) bytes, what restore and verify check (fewer
   * bytes to hash); `sha256` stays for incremental backups' comparisons. Absent for a file in
   * pieces (each piece has its own) and for files referred to in an older-format backup.
   */
  storedSha256?: string;
  /**
   * A file larger than the manifest's pieceSize is stored as pieces of that size (the last
   * one shorter), each compressed on its own under `<file key>~<n>` (pieceKey), so one big
   * relation file is backed up and restored by several workers at once.
   */
  pieces?: ManifestPiece[];
  /**
   * diff/incr backups (incremental.ts): the backup whose object holds this unchanged file
   * (absent: this backup). For a file in pieces, each piece has its own.
   */
  ref?: string;
  /**
   * Format 2: stored inside bundle `n` of the backup holding it (`ref`, else this one), its
   * compressed bytes at `offset` for `storedSize` bytes (bundle.ts); absent: its own object.
   */
  bundle?: { n: number; offset: number };
}

export interface ManifestPiece {
  size: number;
  storedSize: number;
  /**
   * SHA-256 of the piece's bytes; '' for a page delta stored from the pages the WAL named alone
   * (backup.ts, `namedPagesToRead`): the piece was not read whole. Restore never checks it for
   * a delta (the delta's `storedSha256` and the base's own checksum are checked).
   */
  sha256: string;
  /** Format 3: SHA-256 of the stored bytes (see ManifestFile.storedSha256). */
  storedSha256?: string;
  /** The backup whose object holds this piece (absent: this backup). */
  ref?: string;
  /**
   * Format 4: the object holds only the pages that differ from `base`, an earlier backup's
   * whole copy of this piece (incremental.ts, "page deltas"): restore writes the base, then
   * these pages over it. `sha256` stays the whole piece's (later backups compare with it) when
   * it was read whole;
   * `storedSize` / `storedSha256` are the delta object's.
   */
  pages?: PageDelta;
}

/** The pages of a piece stored on their own, over a base piece held by another backup. */
export interface PageDelta {
  /** The whole piece they go over: always a piece stored whole, never another delta. */
  base: PieceBase;
  blockSize: number;
  /** [first page, count] of each run of pages stored, in order; the object holds them back to back. */
  runs: Array<[number, number]>;
}

export interface PieceBase {
  /** The backup whose object holds it. */
  ref: string;
  size: number;
  storedSize: number;
  sha256: string;
  storedSha256?: string;
}

/**
 * A tablespace: a symlink `pg_tblspc/<oid>` → location at backup time. Its files are listed in
 * `files` under `pg_tblspc/<oid>/PG_<major>_<catversion>/…`; restore re-creates the link to the
 * location (or the one --tablespace-map gives) before writing them.
 */
export interface ManifestTablespace {
  oid: number;
  /** spcname ('' if the catalog did not name it). */
  name: string;
  /** Where the link pointed on the backed-up server. */
  location: string;
}

/**
 * The manifest format backups are written in. 2: small files may be stored in bundles
 * (`ManifestFile.bundle`). 3: files and pieces also carry `storedSha256`, the SHA-256 of their
 * stored bytes, and zstd objects their frame checksum; restore and verify check that instead
 * of the plain bytes' SHA-256. Formats 1 and 2 are still read (checked by the plain SHA-256).
 * 4: pieces may be page deltas (`ManifestPiece.pages`); written only by a backup that has one,
 * so that a walmgr that reads up to format 3 refuses only what it could not restore.
 */
export const MANIFEST_FORMAT = 3;
export const MANIFEST_FORMAT_DELTAS = 4;
const FORMATS_READ: readonly number[] = [1, 2, 3, 4];

export interface Manifest {
  format: 1 | 2 | 3 | 4;
  id: string;
  systemId: string;
  pgVersion: number;
  timeline: number;
  walSegmentSize: number;
  startLsn: string;
  stopLsn: string;
  startWal: string;
  stopWal: string;
  startTime: string;
  stopTime: string;
  codec: string;
  backupLabel: string;
  tablespaceMap: string;
  /** Piece length of files stored in pieces (absent in backups without any). */
  pieceSize?: number;
  /** 'full' when absent (backups before incremental ones existed). */
  type?: 'full' | 'diff' | 'incr';
  /** diff/incr: the backup compared against. */
  reference?: string;
  /** diff/incr: every other backup holding objects of this one (retention keeps them with it). */
  references?: string[];
  /** Taken on a standby (pg_backup_start there; the WAL archived by the primary). */
  fromStandby?: boolean;
  /** Tablespaces (absent in backups without any). */
  tablespaces?: ManifestTablespace[];
  dirs: { path: string; mode: number }[];
  files: ManifestFile[];
  totalSize: number;
  storedSize: number;
}

export async function readManifest(storage: Storage, sysid: string, id: string): Promise<Manifest> {
  const key = manifestKey(sysid, id);
  const obj = await storage.get(key);
  if (!obj)
    throw new WalError(
      'not-found',
      `backup ${id} of system ${sysid} not found in ${storage.description} (no ${key}); run walmgr listbackups`,
    );
  try {
    const m = JSON.parse(obj.body.toString('utf8')) as Manifest;
    if (!FORMATS_READ.includes(m.format) || !Array.isArray(m.files))
      throw new Error(`unknown manifest format ${String(m.format)}`);
    return m;
  } catch (err) {
    throw new WalError(
      'corrupt',
      `manifest ${key} in ${storage.description} is unreadable: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export interface BackupRef {
  systemId: string;
  id: string;
}

/**
 * Every complete backup (one with a manifest), oldest first; optionally of one system. Listed by
 * delimiter: with `/data/` every backup's data objects roll up into one prefix, so a listing
 * page (1000 entries on S3) covers ~500 backups instead of ~1 (a backup holds ~1000 objects);
 * without a system id, one more listing by `/` names the systems.
 */
export async function listBackupRefs(storage: Storage, systemId?: string): Promise<BackupRef[]> {
  const systems = systemId
    ? [systemId]
    : (await storage.listDelimited('', '/')).prefixes
        .map((p) => p.slice(0, -1))
        .filter((p) => /^\d+$/.test(p));
  const listings = await Promise.all(
    systems.map((sys) => storage.listDelimited(`${sys}/backups/`, '/data/')),
  );
  const out: BackupRef[] = [];
  for (const { objects } of listings)
    for (const o of objects) {
      const m = /^(\d+)\/backups\/([^/]+)\/manifest\.json$/.exec(o.key);
      if (m) out.push({ systemId: m[1]!, id: m[2]! });
    }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export async function findBackup(storage: Storage, which: string, systemId?: string): Promise<BackupRef> {
  const refs = await listBackupRefs(storage, systemId);
  const systems = new Set(refs.map((r) => r.systemId));
  if (systems.size > 1) {
    throw new WalError(
      'invalid',
      `${storage.description} holds backups of several database systems (${[...systems].join(', ')}); pass --system-id`,
    );
  }
  if (which === 'latest') {
    const last = refs.at(-1);
    if (!last)
      throw new WalError(
        'not-found',
        `no complete backup in ${storage.description}; run walmgr backup first`,
      );
    return last;
  }
  const hit = refs.find((r) => r.id === which);
  if (!hit)
    throw new WalError(
      'not-found',
      `backup ${which} not found in ${storage.description}; run walmgr listbackups`,
    );
  return hit;
}
