// Backup from a standby (PostgreSQL 15, non-exclusive pg_backup_start/stop on the standby). The
// files are read on the standby; what the primary is needed for, given a connection to it:
//   - before the start: a CHECKPOINT on the primary, then waiting until the standby has replayed
//     it, so the standby's restartpoint (the backup's start) is recent rather than whatever the
//     last checkpoint was — less WAL to replay on restore;
//   - after the stop: the stop point lies in a WAL segment the *primary* archives (a standby with
//     archive_mode=on archives nothing; pg_backup_stop on a standby does not wait for archiving
//     unless archive_mode=always), so pg_switch_wal() on the primary completes that segment now
//     instead of at the next archive_timeout; and its pg_stat_archiver explains a stuck wait.
// Without a primary connection the backup still works: it waits for the primary to archive the
// segment on its own (and says so).
import type pg from 'pg';
import { WalError } from './errors.ts';

/** Refuses a --primary-db that is in recovery or of another database system than the standby. */
export async function checkPrimary(primary: pg.Client, standbySysid: string): Promise<void> {
  const r = (
    await primary.query<{ sysid: string; rec: boolean }>(
      `select (select system_identifier::text from pg_control_system()) as sysid, pg_is_in_recovery() as rec`,
    )
  ).rows[0]!;
  if (r.rec)
    throw new WalError(
      'invalid',
      '--primary-db names a server in recovery: give the primary (read-write) server',
    );
  if (r.sysid !== standbySysid)
    throw new WalError(
      'invalid',
      `--primary-db is database system ${r.sysid}, the standby is ${standbySysid}: they are not primary and standby`,
    );
}

/**
 * CHECKPOINT on the primary, then waits (at most waitMs) until the standby has replayed up to
 * it, so pg_backup_start's restartpoint on the standby starts from it. Returns whether it did.
 */
export async function freshRestartpoint(
  primary: pg.Client,
  standby: pg.Client,
  waitMs: number,
): Promise<boolean> {
  await primary.query('checkpoint');
  const lsn = (await primary.query<{ l: string }>('select pg_current_wal_lsn()::text as l')).rows[0]!.l;
  const end = Date.now() + waitMs;
  for (;;) {
    const r = await standby.query<{ ok: boolean }>(
      'select coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) as ok',
      [lsn],
    );
    if (r.rows[0]?.ok) return true;
    if (Date.now() >= end) return false;
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Completes the primary's current WAL segment, so the one holding the standby's stop point is archived. */
export async function switchOnPrimary(primary: pg.Client): Promise<void> {
  await primary.query('select pg_switch_wal()');
}
