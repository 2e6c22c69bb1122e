// listbackups and verify: what the repository holds and whether it is intact.
import type { Storage } from '../storage/types.ts';
import { WalError } from './errors.ts';
import { fetchBackupFiles } from './fetch-backup.ts';
import { checkReferences } from './incremental.ts';
import { walKey } from './layout.ts';
import { listBackupRefs, type Manifest, readManifest } from './manifest.ts';
import type { Progress } from './progress.ts';
import { fetchWal } from './restore-wal.ts';
import { parseWalName, segmentName, segmentNumber } from './wal.ts';

export async function listBackups(storage: Storage, systemId?: string): Promise<Manifest[]> {
  const refs = await listBackupRefs(storage, systemId);
  return Promise.all(refs.map((r) => readManifest(storage, r.systemId, r.id)));
}

export interface VerifyReport {
  backup: string;
  files: number;
  walSegments: number;
  problems: string[];
}

/**
 * Verifies a backup end to end: every file's checksum, and every WAL segment from the
 * backup's start to its stop (needed to make it consistent) present and intact.
 */
export async function verifyBackup(
  storage: Storage,
  m: Manifest,
  parallel: number,
  progress?: (msg: string) => void,
  /** Worker threads for decompress + check (fetch-backup.ts); 0: this thread (Lambda). */
  workers = 0,
  /** Files and bytes checked as they go (progress.ts); one per backup. */
  meter?: (m: Manifest) => Progress,
): Promise<VerifyReport> {
  const problems: string[] = [];
  await checkReferences(storage, m).catch((err: Error) => problems.push(err.message));
  await fetchBackupFiles(storage, m, {
    pgdata: null,
    parallel,
    workers,
    onProblem: (msg) => problems.push(msg),
    ...(meter ? { meter: meter(m) } : {}),
  });
  progress?.(`verify ${m.id}: ${m.files.length} files checked`);
  const first = segmentNumber(m.startWal, m.walSegmentSize);
  const last = segmentNumber(m.stopWal, m.walSegmentSize);
  let segs = 0;
  for (let s = first; s <= last; s++) {
    const wal = parseWalName(segmentName(m.timeline, s, m.walSegmentSize));
    try {
      const data = await fetchWal(storage, m.systemId, wal);
      if (!data)
        problems.push(
          `WAL segment ${wal.name} needed by backup ${m.id} is missing (${walKey(m.systemId, wal)})`,
        );
      segs++;
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  progress?.(`verify ${m.id}: WAL ${m.startWal}..${m.stopWal} checked`);
  return { backup: m.id, files: m.files.length, walSegments: segs, problems };
}

export async function verifyAll(
  storage: Storage,
  which: string,
  systemId: string | undefined,
  parallel: number,
  progress?: (msg: string) => void,
  workers = 0,
  meter?: (m: Manifest) => Progress,
): Promise<VerifyReport[]> {
  const refs = await listBackupRefs(storage, systemId);
  const chosen =
    which === 'all' ? refs : which === 'latest' ? refs.slice(-1) : refs.filter((r) => r.id === which);
  if (chosen.length === 0)
    throw new WalError('not-found', `no backup ${which} in ${storage.description}; run walmgr listbackups`);
  const out: VerifyReport[] = [];
  for (const r of chosen)
    out.push(
      await verifyBackup(
        storage,
        await readManifest(storage, r.systemId, r.id),
        parallel,
        progress,
        workers,
        meter,
      ),
    );
  return out;
}
