// Waiting until the server's archiver has stored a WAL file in our repository (the last step
// of a backup, and `check`'s round trip). The archiver's own statistics (pg_stat_archiver, a
// local query) say when it is done with the file; only then is the repository asked (one
// HEAD), so the wait ends within a poll interval of the archive_command's exit without
// hammering the storage. A HEAD also goes out every few seconds regardless: an archiver whose
// statistics we cannot see (the primary of a standby backup taken without --primary-db) or a
// file another archiver stored still ends the wait.
import path from 'node:path';
import type pg from 'pg';
import type { Storage } from '../storage/types.ts';
import { WalError } from './errors.ts';

export interface WaitTiming {
  /** First pause between two looks at pg_stat_archiver (ms); grows to maxPollMs. */
  pollMs: number;
  maxPollMs: number;
  /** At most this long between two HEADs while the statistics show nothing (ms). */
  headEveryMs: number;
  /** Between two "still waiting" lines (ms). */
  sayEveryMs: number;
}

const DEFAULT_TIMING: WaitTiming = { pollMs: 25, maxPollMs: 200, headEveryMs: 2000, sayEveryMs: 5000 };

/**
 * `check`'s wait: the object counts only once this server's archiver says it archived the file.
 * An object stored otherwise — the background archive-ahead of an archive_command that was just
 * replaced, which keeps storing `.ready` files for a few seconds — does not prove that the
 * current archive_command works.
 */
export const BY_ARCHIVER: WaitTiming = { ...DEFAULT_TIMING, headEveryMs: Number.POSITIVE_INFINITY };

interface ArchiverRow {
  last_ok: string | null;
  failed: string | null;
  failed_at: Date | null;
  n: string;
}

/**
 * Whether the archiver has archived `name` (a segment, `.partial` or `.history` file name) by
 * the statistics' last archived file: it archives in order, so a later segment of the same or a
 * later timeline means `name` went before it. Only names of segments compare; anything else
 * (a history file, nothing yet) says nothing.
 */
export function archivedPast(lastArchived: string | null, name: string): boolean {
  const seg = /^[0-9A-F]{24}/;
  const last = lastArchived?.match(seg)?.[0];
  const want = name.match(seg)?.[0];
  // Timeline, log and segment are fixed-width upper-case hex: text order is their order.
  return last !== undefined && want !== undefined && last >= want;
}

/**
 * Waits until the WAL object `key` is in storage. While waiting it reports, every few seconds,
 * what the server's archiver says (a failing archive_command is the usual cause of a stuck
 * backup); after `timeoutMs` it gives up with that diagnosis.
 */
export async function waitForArchived(
  storage: Storage,
  client: pg.Client,
  key: string,
  timeoutMs: number,
  say: (msg: string) => void,
  timing: WaitTiming = DEFAULT_TIMING,
  /** When the wait began, if before this call (a backup's earlier waits count against its timeout). */
  startedAt: number = Date.now(),
): Promise<void> {
  const name = path.basename(key);
  const started = startedAt;
  say(`waiting for WAL ${name} to be archived into ${storage.description}`);
  const archiver = async (): Promise<ArchiverRow | undefined> =>
    (
      await client.query<ArchiverRow>(
        `select last_archived_wal as last_ok, last_failed_wal as failed, last_failed_time as failed_at,
                failed_count::text as n from pg_stat_archiver`,
      )
    ).rows[0];
  const describe = (a: ArchiverRow | undefined): string => {
    if (!a) return 'no archiver statistics';
    const failing =
      a.failed && a.failed_at && a.failed_at.getTime() >= started - 1000
        ? `; archive_command FAILING on ${a.failed} (last at ${a.failed_at.toISOString()}, ${a.n} failures in all): see the server log`
        : '';
    return `archiver last stored ${a.last_ok ?? 'nothing'}${failing}`;
  };
  let lastSay = started;
  let lastHead = 0;
  let poll = timing.pollMs;
  // The statistics' last archived file when we last asked the storage: a HEAD per change, not per poll.
  let headedFor: string | null | undefined;
  for (;;) {
    const a = await archiver();
    const now = Date.now();
    const done = archivedPast(a?.last_ok ?? null, name);
    if ((done && headedFor !== a?.last_ok) || now - lastHead >= timing.headEveryMs) {
      lastHead = now;
      headedFor = done ? a?.last_ok : undefined;
      if (await storage.head(key)) return;
    }
    if (now - started >= timeoutMs) {
      throw new WalError(
        'io',
        `WAL ${name} did not reach ${storage.description} within ${Math.round(timeoutMs / 1000)} s (${describe(a)}). ` +
          'The backup is not usable without it: check that archive_mode is on and archive_command stores into this repository (walmgr archive with the same --repo), then run the backup again',
      );
    }
    if (now - lastSay >= timing.sayEveryMs) {
      lastSay = now;
      say(`still waiting for WAL ${name} (${Math.round((now - started) / 1000)} s): ${describe(a)}`);
    }
    await new Promise((r) => setTimeout(r, poll));
    poll = Math.min(timing.maxPollMs, poll * 2);
  }
}
