// Retention: expires complete backups beyond a policy (keep the newest N and/or those younger
// than a maximum age) and the WAL no kept backup needs. Per database system in the repository:
//   - a backup is kept when it is among the newest `keepLast`, or (with `maxAgeDays`) stopped
//     less than that long ago; the newest complete backup is always kept;
//   - an expired backup loses its manifest first (from then on it is "incomplete" and ignored by
//     restore/listbackups), then its data files;
//   - on every timeline, WAL files (segments, .partial, .backup labels) whose segment number is
//     below the oldest kept backup's start segment are deleted. Segment numbers only grow along
//     a timeline history, so nothing below that point is needed by any kept backup, whatever its
//     timeline; `.history` files are never deleted;
//   - backups without a manifest (running or failed) and systems without a complete backup are
//     left alone (reported, not deleted).
// With `dryRun` nothing is deleted; the result lists what would be.
import type { Storage } from '../storage/types.ts';
import { WalError } from './errors.ts';
import { referencedBackups } from './incremental.ts';
import { backupPrefix, manifestKey } from './layout.ts';
import { listBackupRefs, type Manifest, readManifest } from './manifest.ts';
import { parseWalName, segmentNumber } from './wal.ts';

export interface RetentionPolicy {
  /** Keep the newest N complete backups. */
  keepLast?: number;
  /** Keep every backup that stopped less than this many days ago. */
  maxAgeDays?: number;
}

export interface RetentionOptions {
  storage: Storage;
  policy: RetentionPolicy;
  /** Only this database system; default every system in the repository. */
  systemId?: string;
  dryRun?: boolean;
  /** Reference time for maxAgeDays; default now. */
  now?: Date;
  /** Concurrent deletes. Default 16. */
  parallel?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface SystemRetention {
  systemId: string;
  keptBackups: string[];
  expiredBackups: string[];
  /** Backup ids without a manifest: left alone. */
  incompleteBackups: string[];
  /** The oldest kept backup's start WAL segment; WAL below it is expired. */
  walBoundary: string | null;
  /** WAL file names expired (timeline directory + name, e.g. 00000001/000000010000000000000003). */
  expiredWal: string[];
  /** Objects deleted (or, in a dry run, that would be). */
  deletedObjects: number;
}

export interface RetentionResult {
  dryRun: boolean;
  systems: SystemRetention[];
}

export function checkPolicy(p: RetentionPolicy): RetentionPolicy {
  const { keepLast, maxAgeDays } = p;
  if (keepLast === undefined && maxAgeDays === undefined)
    throw new WalError('invalid', 'retention needs a policy: keepLast (count) and/or maxAgeDays');
  if (keepLast !== undefined && (!Number.isInteger(keepLast) || keepLast < 1))
    throw new WalError('invalid', `keepLast must be a whole number ≥ 1, not ${keepLast}`);
  if (maxAgeDays !== undefined && (!Number.isFinite(maxAgeDays) || maxAgeDays <= 0))
    throw new WalError('invalid', `maxAgeDays must be a positive number, not ${maxAgeDays}`);
  return p;
}

/** Which of the manifests (any order) to keep under the policy; the newest is always kept. */
export function selectKept(manifests: Manifest[], policy: RetentionPolicy, now: Date): Set<string> {
  const newestFirst = [...manifests].sort((a, b) => cmp(b.startTime, a.startTime) || cmp(b.id, a.id));
  const kept = new Set<string>();
  if (newestFirst[0]) kept.add(newestFirst[0].id);
  newestFirst.forEach((m, i) => {
    if (policy.keepLast !== undefined && i < policy.keepLast) kept.add(m.id);
    if (
      policy.maxAgeDays !== undefined &&
      now.getTime() - Date.parse(m.stopTime) < policy.maxAgeDays * 86_400_000
    )
      kept.add(m.id);
  });
  // A kept diff/incr backup needs the backups holding its unchanged files (and so on: a
  // backup kept only for that stays restorable itself).
  for (let before = -1; before !== kept.size; ) {
    before = kept.size;
    for (const m of manifests)
      if (kept.has(m.id)) for (const dep of m.references ?? referencedBackups(m)) kept.add(dep);
  }
  return kept;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function deleteAll(storage: Storage, keys: string[], parallel: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys.length) await storage.delete(keys[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
}

export async function applyRetention(opts: RetentionOptions): Promise<RetentionResult> {
  const policy = checkPolicy(opts.policy);
  const { storage } = opts;
  const dryRun = Boolean(opts.dryRun);
  const now = opts.now ?? new Date();
  const parallel = opts.parallel ?? 16;
  const log = opts.log ?? (() => {});
  const systems = opts.systemId
    ? [opts.systemId]
    : [
        ...new Set(
          (await storage.list(''))
            .map((o) => /^(\d+)\/(?:wal|backups)\//.exec(o.key)?.[1])
            .filter((s): s is string => Boolean(s)),
        ),
      ].sort();
  const out: RetentionResult = { dryRun, systems: [] };
  for (const systemId of systems) {
    const refs = await listBackupRefs(storage, systemId);
    const manifests = await Promise.all(refs.map((r) => readManifest(storage, systemId, r.id)));
    const kept = selectKept(manifests, policy, now);
    const expired = manifests.filter((m) => !kept.has(m.id));
    const keptManifests = manifests.filter((m) => kept.has(m.id));
    const backupObjs = await storage.list(`${systemId}/backups/`);
    const complete = new Set(refs.map((r) => r.id));
    const incomplete = [
      ...new Set(backupObjs.map((o) => o.key.split('/')[2]!).filter((id) => !complete.has(id))),
    ].sort();
    const res: SystemRetention = {
      systemId,
      keptBackups: keptManifests.map((m) => m.id).sort(),
      expiredBackups: expired.map((m) => m.id).sort(),
      incompleteBackups: incomplete,
      walBoundary: null,
      expiredWal: [],
      deletedObjects: 0,
    };
    out.systems.push(res);
    if (keptManifests.length === 0) {
      log('no complete backup: nothing expired', { systemId, incompleteBackups: incomplete });
      continue;
    }
    // Backups: manifest first, so a half-deleted backup is never taken for a complete one.
    for (const m of expired) {
      const prefix = `${backupPrefix(systemId, m.id)}/`;
      const keys = backupObjs.filter((o) => o.key.startsWith(prefix)).map((o) => o.key);
      const mk = manifestKey(systemId, m.id);
      if (!dryRun) {
        await storage.delete(mk);
        await deleteAll(
          storage,
          keys.filter((k) => k !== mk),
          parallel,
        );
      }
      res.deletedObjects += keys.length;
      log(dryRun ? 'would expire backup' : 'expired backup', {
        systemId,
        backup: m.id,
        objects: keys.length,
      });
    }
    // WAL below the oldest kept backup's start segment, on every timeline.
    const segSize = keptManifests[0]!.walSegmentSize;
    let boundary: bigint | null = null;
    for (const m of keptManifests) {
      if (m.walSegmentSize !== segSize)
        throw new WalError(
          'corrupt',
          `backups ${keptManifests[0]!.id} and ${m.id} of system ${systemId} disagree on the WAL segment size (${segSize} vs ${m.walSegmentSize}); nothing expired`,
        );
      const s = segmentNumber(m.startWal, segSize);
      if (boundary === null || s < boundary) {
        boundary = s;
        res.walBoundary = m.startWal;
      }
    }
    const walKeys: string[] = [];
    for (const o of await storage.list(`${systemId}/wal/`)) {
      const rel = o.key.slice(`${systemId}/wal/`.length);
      const name = rel.split('/').at(-1)!;
      let wal: ReturnType<typeof parseWalName>;
      try {
        wal = parseWalName(name);
      } catch {
        continue; // not ours: left alone
      }
      if (wal.kind === 'history' || !wal.segment) continue;
      if (segmentNumber(wal.segment, segSize) < boundary!) {
        walKeys.push(o.key);
        res.expiredWal.push(rel);
      }
    }
    if (!dryRun) await deleteAll(storage, walKeys, parallel);
    res.deletedObjects += walKeys.length;
    log(dryRun ? 'would expire WAL' : 'expired WAL', {
      systemId,
      boundary: res.walBoundary,
      files: walKeys.length,
    });
  }
  return out;
}
