// Verification of single new objects in the repository (the wal-verify Lambda calls this for
// every S3 object-created event), reusing the checks restore makes:
//   - WAL files: fetchWal (SHA-256 of the uncompressed bytes against the archived metadata, and
//     for segments/.partial the page header: magic, segment size, page address = name,
//     timeline, system id) plus the key's timeline directory = the name's timeline;
//   - a backup's manifest.json: readManifest, the manifest names this system and id, every file
//     it lists is stored with its stored size, no stored data file is missing from it, and the
//     WAL from its start to its stop segment is archived (with `deep`: catalog.verifyBackup, which
//     also reads and checksums every file and WAL segment);
//   - continuity per timeline: after a segment arrives, the segments of the window below it
//     (listed by name prefix, at most two log ids) are checked for holes. The last `pending`
//     segments below the newest are not holes yet: archive-ahead uploads in parallel, so they
//     arrive out of order. The result is kept in `<sysid>/catalog/<TLI>.json`.
// Other objects (backup data files, which their manifest covers; catalog objects themselves;
// anything not laid out by walmgr) are skipped without reading them.
import type { Storage } from '../storage/types.ts';
import { verifyBackup } from './catalog.ts';
import { backupPrefix, bundleKey, META, manifestKey, pieceKey } from './layout.ts';
import { readManifest } from './manifest.ts';
import { fetchWal } from './restore-wal.ts';
import { parseWalName, segmentName, segmentNumber, type WalName } from './wal.ts';

export type ObjectKind = 'wal' | 'backup' | 'skipped';

export interface ObjectVerdict {
  key: string;
  kind: ObjectKind;
  systemId?: string;
  /** Empty when the object is intact (or skipped). */
  problems: string[];
  /** For WAL segments: the holes currently recorded for the timeline. */
  gaps?: string[];
  /** True when the object no longer exists (deleted before it was verified). */
  gone?: boolean;
}

export interface TimelineCatalog {
  format: 1;
  systemId: string;
  timeline: number;
  segmentSize: number;
  /** Lowest and highest complete segment seen on this timeline. */
  lowest: string;
  highest: string;
  /** Missing segments between lowest and highest (minus the pending window), oldest first. */
  gaps: string[];
  /** Recent verification failures on this timeline (newest last, at most 50). */
  problems: { key: string; message: string; at: string }[];
  updated: string;
}

export interface VerifyObjectOptions {
  /** Segments below the newest that may still be in flight. Default 16. */
  pending?: number;
  /** Backups: read and checksum every file and WAL segment too. Default false. */
  deep?: boolean;
  /** Parallel reads for a deep backup check. Default 8. */
  parallel?: number;
  now?: Date;
}

export function catalogKey(sysid: string, tli: number): string {
  return `${sysid}/catalog/${tli.toString(16).toUpperCase().padStart(8, '0')}.json`;
}

export async function readTimelineCatalog(
  storage: Storage,
  sysid: string,
  tli: number,
): Promise<TimelineCatalog | null> {
  const obj = await storage.get(catalogKey(sysid, tli));
  if (!obj) return null;
  try {
    const c = JSON.parse(obj.body.toString('utf8')) as TimelineCatalog;
    return c.format === 1 ? c : null;
  } catch {
    return null; // rebuilt from the listing
  }
}

/** Verifies one object under its repository-relative key. */
export async function verifyObject(
  storage: Storage,
  key: string,
  opts: VerifyObjectOptions = {},
): Promise<ObjectVerdict> {
  let m = /^(\d+)\/wal\/([0-9A-F]{8})\/([^/]+)$/.exec(key);
  if (m) return verifyWalObject(storage, key, m[1]!, m[2]!, m[3]!, opts);
  m = /^(\d+)\/backups\/([^/]+)\/manifest\.json$/.exec(key);
  if (m) return verifyBackupObject(storage, key, m[1]!, m[2]!, opts);
  return { key, kind: 'skipped', problems: [] };
}

async function verifyWalObject(
  storage: Storage,
  key: string,
  sysid: string,
  tliDir: string,
  name: string,
  opts: VerifyObjectOptions,
): Promise<ObjectVerdict> {
  const verdict: ObjectVerdict = { key, kind: 'wal', systemId: sysid, problems: [] };
  let wal: WalName;
  try {
    wal = parseWalName(name);
  } catch (err) {
    verdict.problems.push(`${key}: ${(err as Error).message}`);
    return verdict;
  }
  if (wal.tli !== Number.parseInt(tliDir, 16))
    verdict.problems.push(`${key}: ${wal.name} belongs to timeline ${wal.tli}, stored under ${tliDir}`);
  let data: Buffer | null = null;
  try {
    data = await fetchWal(storage, sysid, wal);
    if (!data) verdict.gone = true;
  } catch (err) {
    verdict.problems.push((err as Error).message);
  }
  if (wal.kind !== 'segment' && verdict.problems.length === 0) return verdict;
  const tli = wal.tli;
  const cat = await readTimelineCatalog(storage, sysid, tli);
  // Segment size: from the verified header, else the catalog, else the stored metadata size.
  const segSize =
    (data && wal.kind === 'segment' && verdict.problems.length === 0 ? data.readUInt32LE(32) : 0) ||
    cat?.segmentSize ||
    0;
  if (!segSize) {
    // A broken first segment of a timeline: record the problem without continuity.
    if (verdict.problems.length) await recordProblems(storage, sysid, tli, cat, verdict, opts);
    return verdict;
  }
  const next = await updateContinuity(storage, sysid, tli, segSize, wal, cat, verdict, opts);
  verdict.gaps = next.gaps;
  return verdict;
}

async function recordProblems(
  storage: Storage,
  sysid: string,
  tli: number,
  cat: TimelineCatalog | null,
  verdict: ObjectVerdict,
  opts: VerifyObjectOptions,
): Promise<void> {
  if (!cat) return; // nothing to attach it to yet; the caller logs and counts it
  const at = (opts.now ?? new Date()).toISOString();
  cat.problems = [
    ...cat.problems,
    ...verdict.problems.map((message) => ({ key: verdict.key, message, at })),
  ].slice(-50);
  cat.updated = at;
  await storage.put(catalogKey(sysid, tli), Buffer.from(JSON.stringify(cat, null, 1)));
}

async function updateContinuity(
  storage: Storage,
  sysid: string,
  tli: number,
  segSize: number,
  wal: WalName,
  cat: TimelineCatalog | null,
  verdict: ObjectVerdict,
  opts: VerifyObjectOptions,
): Promise<TimelineCatalog> {
  const pending = BigInt(opts.pending ?? 16);
  const at = (opts.now ?? new Date()).toISOString();
  const perId = 0x100000000n / BigInt(segSize);
  const num = (name: string) => segmentNumber(name, segSize);
  const name = (n: bigint) => segmentName(tli, n, segSize);
  const s = num(wal.segment!);
  // The window: this segment's log id and the one before.
  const tliHex = wal.name.slice(0, 8);
  const dir = `${sysid}/wal/${tliHex}/`;
  const logId = s / perId;
  const present = new Set<bigint>();
  for (const id of logId > 0n ? [logId - 1n, logId] : [logId]) {
    const prefix = `${dir}${tliHex}${id.toString(16).toUpperCase().padStart(8, '0')}`;
    for (const o of await storage.list(prefix)) {
      const n = o.key.slice(dir.length);
      if (/^[0-9A-F]{24}$/.test(n)) present.add(num(n));
    }
  }
  // A segment that failed verification is not part of the continuous archive.
  if (verdict.problems.length) present.delete(s);
  else present.add(s);
  const windowLow = (logId > 0n ? logId - 1n : 0n) * perId;
  const known = [...present].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let lowest = cat ? num(cat.lowest) : (known[0] ?? s);
  let highest = cat ? num(cat.highest) : (known.at(-1) ?? s);
  for (const n of known) {
    if (n < lowest) lowest = n;
    if (n > highest) highest = n;
  }
  const checkFrom = lowest > windowLow ? lowest : windowLow;
  const checkTo = highest - pending - 1n; // inclusive; newer holes may still be in flight
  const gaps = new Set((cat?.gaps ?? []).filter((g) => num(g) < windowLow || num(g) > highest));
  for (let n = checkFrom; n <= checkTo; n++) if (!present.has(n)) gaps.add(name(n));
  if (!verdict.problems.length) gaps.delete(wal.name);
  const next: TimelineCatalog = {
    format: 1,
    systemId: sysid,
    timeline: tli,
    segmentSize: segSize,
    lowest: name(lowest),
    highest: name(highest),
    gaps: [...gaps].sort(),
    problems: [
      ...(cat?.problems ?? []),
      ...verdict.problems.map((message) => ({ key: verdict.key, message, at })),
    ].slice(-50),
    updated: at,
  };
  await storage.put(catalogKey(sysid, tli), Buffer.from(JSON.stringify(next, null, 1)));
  return next;
}

async function verifyBackupObject(
  storage: Storage,
  key: string,
  sysid: string,
  id: string,
  opts: VerifyObjectOptions,
): Promise<ObjectVerdict> {
  const verdict: ObjectVerdict = { key, kind: 'backup', systemId: sysid, problems: [] };
  if (!(await storage.head(manifestKey(sysid, id)))) {
    verdict.gone = true;
    return verdict;
  }
  let m: Awaited<ReturnType<typeof readManifest>>;
  try {
    m = await readManifest(storage, sysid, id);
  } catch (err) {
    verdict.problems.push((err as Error).message);
    return verdict;
  }
  if (m.systemId !== sysid || m.id !== id)
    verdict.problems.push(
      `${key}: manifest names backup ${m.id} of system ${m.systemId}, stored as ${id} of ${sysid}`,
    );
  if (opts.deep) {
    verdict.problems.push(...(await verifyBackup(storage, m, opts.parallel ?? 8)).problems);
    return verdict;
  }
  // Each stored object the manifest names, with the size it must have: a file's own key, or
  // its pieces' keys (pieceKey relative to the data prefix), under the backup that holds it
  // (this one, or for a diff/incr backup's unchanged files the one it refers to).
  const expected = new Map<string, Map<string, number>>([[id, new Map()]]);
  const expect = (holder: string | undefined, p: string, size: number) => {
    const h = holder ?? id;
    if (!expected.has(h)) expected.set(h, new Map());
    const want = expected.get(h)!;
    // A bundle (format 2) must reach the end of the last file it holds for this backup.
    want.set(p, Math.max(want.get(p) ?? 0, size));
  };
  /** Bundles of other backups may hold more than this one refers to: at least, not exactly. */
  const atLeast = new Set<string>();
  for (const f of m.files) {
    if (f.bundle) {
      const rel = bundleKey(sysid, f.ref ?? id, f.bundle.n).slice(
        `${backupPrefix(sysid, f.ref ?? id)}/data/`.length,
      );
      expect(f.ref, rel, f.bundle.offset + f.storedSize);
      if ((f.ref ?? id) !== id) atLeast.add(`${f.ref}/${rel}`);
    } else if (!f.pieces) expect(f.ref, f.path, f.storedSize);
    else
      for (const [n, p] of f.pieces.entries()) {
        expect(p.ref, pieceKey(f.path, n), p.storedSize);
        // A page delta's base: the whole piece in the backup it names.
        if (p.pages) expect(p.pages.base.ref, pieceKey(f.path, n), p.pages.base.storedSize);
      }
  }
  for (const [holder, want] of expected) {
    const dataPrefix = `${backupPrefix(sysid, holder)}/data/`;
    const stored = new Map(
      (await storage.list(dataPrefix)).map((o) => [o.key.slice(dataPrefix.length), o.size]),
    );
    const where = holder === id ? '' : ` (in backup ${holder})`;
    if (holder !== id && !(await storage.head(manifestKey(sysid, holder))))
      verdict.problems.push(
        `backup ${id}: refers to backup ${holder}, which has no manifest (expired or incomplete)`,
      );
    for (const [p, size] of want) {
      const got = stored.get(p);
      if (got === undefined)
        verdict.problems.push(`backup ${id}: ${p}${where} is in the manifest but not stored`);
      else if (got !== size && !(atLeast.has(`${holder}/${p}`) && got > size))
        verdict.problems.push(
          `backup ${id}: ${p}${where} is stored with ${got} bytes, the manifest says ${size}`,
        );
    }
    // Only this backup's own prefix must hold nothing else: a referenced one holds its own files.
    if (holder === id)
      for (const p of stored.keys())
        if (!want.has(p)) verdict.problems.push(`backup ${id}: stored file ${p} is not in the manifest`);
  }
  // The WAL that makes the backup consistent must be archived (checked by metadata only).
  const first = segmentNumber(m.startWal, m.walSegmentSize);
  const last = segmentNumber(m.stopWal, m.walSegmentSize);
  for (let s = first; s <= last; s++) {
    const wal = parseWalName(segmentName(m.timeline, s, m.walSegmentSize));
    const k = `${sysid}/wal/${wal.name.slice(0, 8)}/${wal.name}`;
    const h = await storage.head(k);
    if (!h) verdict.problems.push(`backup ${id}: WAL segment ${wal.name} it needs is not archived (${k})`);
    else if (!h.metadata[META.sha256])
      verdict.problems.push(`backup ${id}: WAL segment ${wal.name} has no checksum metadata (${k})`);
  }
  return verdict;
}
