// The last step of a backup on a primary: its stop segment (the one holding the backup-end
// record) must be in the repository before the backup counts. The archiver stores it, but
// only after starting an archive_command for it — a process start, a connection and an
// upload after the switch, most of a small incremental backup's time. The segment is complete
// on disk once the server has queued it for archiving (`.ready`, or `.done` once archived:
// PostgreSQL flushes a switched segment before it notifies the archiver), so the backup stores
// it itself, as `archive` would (same key, checks and metadata: storeWalFile), racing the
// archiver harmlessly — whichever comes second finds the same SHA-256 and reports it stored.
//
// Only once the archiver has caught up with everything queued before the stop segment (no
// other `.ready` file left, a `.backup` history file aside), and not while its last word is a
// failure: a backup that succeeds says the archiver is keeping up, as when it waited
// for the archiver's own upload. A failing or stuck archiver leaves the caller's wait
// (archive-wait.ts), which names the failure and gives up at its deadline, as before. The
// backup's segments before the stop one are checked in the repository by the caller.
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Storage } from '../storage/types.ts';
import { storeWalFile } from './archive.ts';
import type { Codec } from './codec.ts';
import { WalError } from './errors.ts';
import { parseWalName } from './wal.ts';

export interface StopWalOptions {
  storage: Storage;
  client: pg.Client;
  pgdata: string;
  sysid: string;
  codec: Codec;
  /** The stop segment's file name. */
  stopWal: string;
  /** Give up waiting for the archiver to catch up at this time (ms since the epoch). */
  deadline: number;
}

/**
 * Stores the stop segment from the data directory's pg_wal once it is complete there and the
 * archiver has caught up to it without failing; false when that does not happen (the caller
 * waits for the archiver).
 */
export async function storeStopWal(o: StopWalOptions): Promise<boolean> {
  const wal = path.join(o.pgdata, 'pg_wal');
  const status = path.join(wal, 'archive_status');
  const queued = ['.ready', '.done'].some((s) => fs.existsSync(path.join(status, `${o.stopWal}${s}`)));
  if (!queued) return false;
  for (let pause = 25; ; pause = Math.min(200, pause * 2)) {
    if (await archiverFailing(o.client)) return false;
    if (!othersReady(status, o.stopWal)) break;
    if (Date.now() >= o.deadline) return false;
    await new Promise((r) => setTimeout(r, pause));
  }
  try {
    await storeWalFile(o.storage, path.join(wal, o.stopWal), parseWalName(o.stopWal), o.sysid, o.codec);
    return true;
  } catch (err) {
    // Other content under its key is a real problem; anything else (the file recycled once
    // archived, a read error) leaves it to the archiver's way.
    if (err instanceof WalError && err.kind === 'refused') throw err;
    return false;
  }
}

/**
 * Whether the archiver's last word was a failure: it failed and has archived nothing since (the
 * file it failed on is still waiting; one that was fixed since shows a newer success).
 */
async function archiverFailing(client: pg.Client): Promise<boolean> {
  const r = await client.query<{ failing: boolean }>(
    `select coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) as failing
       from pg_stat_archiver`,
  );
  return r.rows[0]?.failing ?? false;
}

/** Whether files other than `stopWal` (and `.backup` history files) wait for the archiver. */
function othersReady(status: string, stopWal: string): boolean {
  return fs
    .readdirSync(status)
    .some((f) => f.endsWith('.ready') && f !== `${stopWal}.ready` && !f.endsWith('.backup.ready'));
}
