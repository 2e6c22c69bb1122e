// Standby control, as the original walmgr's `boot`, `pause` and `continue`: on a server that is
// in recovery (a standby restored with --standby, replaying the archive through restore-wal),
// pause or resume WAL replay, or end recovery and open it read-write (promote).
import type pg from 'pg';
import { WalError } from './errors.ts';

export type StandbyAction = 'pause' | 'continue' | 'boot';

export interface StandbyResult {
  action: StandbyAction;
  /** pg_get_wal_replay_pause_state() after pause/continue; 'promoted' after boot. */
  state: string;
  replayLsn: string | null;
}

export async function standbyControl(
  client: pg.ClientBase,
  action: StandbyAction,
  opts: { promoteWaitSeconds?: number } = {},
): Promise<StandbyResult> {
  const rec = await client.query<{ r: boolean }>('select pg_is_in_recovery() as r');
  if (!rec.rows[0]!.r) {
    throw new WalError(
      'refused',
      `walmgr ${action}: the server is not in recovery (not a standby); nothing to ${action === 'boot' ? 'promote' : action}`,
    );
  }
  if (action === 'boot') {
    const wait = opts.promoteWaitSeconds ?? 60;
    const r = await client.query<{ ok: boolean }>('select pg_promote(true, $1) as ok', [wait]);
    if (!r.rows[0]!.ok) {
      throw new WalError(
        'io',
        `walmgr boot: the server did not finish promotion within ${wait} s; check its log`,
      );
    }
    return { action, state: 'promoted', replayLsn: null };
  }
  await client.query(action === 'pause' ? 'select pg_wal_replay_pause()' : 'select pg_wal_replay_resume()');
  const s = await client.query<{ state: string; lsn: string | null }>(
    'select pg_get_wal_replay_pause_state() as state, pg_last_wal_replay_lsn()::text as lsn',
  );
  return { action, state: s.rows[0]!.state, replayLsn: s.rows[0]!.lsn };
}
