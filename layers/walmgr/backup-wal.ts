// The WAL a backup needs, stored by the backup itself (on a primary): once pg_backup_stop has
// returned, the segments from the start to the stop segment are complete in pg_wal (the switch
// it makes is flushed before it returns, and a complete segment has its archive_status file).
// Those still waiting for the archiver (`.ready`) are stored here the way `archive` stores them
// (storeWalFile: validated, same content → success, other content → refused), so the backup
// does not wait for the archiver to start `archive_command` (a process, the SDK loaded) and for
// its own polling to see the result: measured, most of a small incremental backup's time. The
// archiver then finds each already stored. A segment that cannot be stored here is left to
// the archiver; backup.ts waits for the stop segment either way.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Storage } from '../storage/types.ts';
import { storeWalFile } from './archive.ts';
import type { Codec } from './codec.ts';
import { parseWalName, segmentName, segmentNumber } from './wal.ts';

export interface BackupWal {
  pgdata: string;
  sysid: string;
  codec: Codec;
  timeline: number;
  startWal: string;
  stopWal: string;
  segSize: number;
  parallel: number;
}

/** Segments of the backup still marked `.ready` in pg_wal/archive_status, oldest first. */
export function readySegments(w: BackupWal): string[] {
  const from = segmentNumber(w.startWal, w.segSize);
  const to = segmentNumber(w.stopWal, w.segSize);
  const out: string[] = [];
  for (let n = from; n <= to; n++) {
    const name = segmentName(w.timeline, n, w.segSize);
    if (existsSync(path.join(w.pgdata, 'pg_wal', 'archive_status', `${name}.ready`))) out.push(name);
  }
  return out;
}

/** Stores the `.ready` segments of the backup; returns how many, reporting what it left. */
export async function storeBackupWal(
  storage: Storage,
  w: BackupWal,
  say: (msg: string) => void,
): Promise<number> {
  const names = readySegments(w);
  let stored = 0;
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      try {
        await storeWalFile(
          storage,
          path.join(w.pgdata, 'pg_wal', name),
          parseWalName(name),
          w.sysid,
          w.codec,
        );
        stored++;
      } catch (err) {
        say(`WAL ${name} left to the archiver: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(w.parallel, names.length)) }, worker));
  return stored;
}
