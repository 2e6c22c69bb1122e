// `walmgr check`: is this setup able to restore, now, before it is needed? Five checks, each with
// its own verdict, run in this order:
//   repository  the marker is there and readable; a probe object is written, read back, removed
//   archive     archive_command round-trips a fresh segment: a WAL record is written, the segment
//               switched, and within the deadline that segment is in the repository and verifies
//               (checksum + page header), as restore-wal would fetch it
//   backup      the newest complete backup's manifest verifies against what is stored (every file
//               or piece with its stored size, nothing extra, the WAL to its stop archived)
//   wal         every WAL segment from that backup's start to the newest archived one is present,
//               on its timeline and on each later one (with its .history file)
//   retention   at least one complete backup; with a policy, nothing is overdue for expiry
// When the repository check fails the others are skipped: they would only repeat its error.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Storage } from '../storage/types.ts';
import { BY_ARCHIVER, waitForArchived } from './archive-wait.ts';
import { manifestKey, walKey } from './layout.ts';
import { findBackup, listBackupRefs, type Manifest, readManifest } from './manifest.ts';
import { requireRepository } from './repository.ts';
import { fetchWal } from './restore-wal.ts';
import { applyRetention, type RetentionPolicy } from './retention.ts';
import { verifyObject } from './verify-object.ts';
import { parseWalName, segmentName, segmentNumber } from './wal.ts';

export type CheckName = 'repository' | 'archive' | 'backup' | 'wal' | 'retention';
export type CheckStatus = 'ok' | 'failed' | 'skipped';

export interface CheckResult {
  name: CheckName;
  status: CheckStatus;
  /** What was found, or what is wrong and what to do. */
  detail: string;
}

export interface CheckOptions {
  storage: Storage;
  /** The database whose archive_command is checked (the primary); null: archive check fails. */
  client: pg.Client | null;
  /** Why there is no client (its connection error), for the archive verdict. */
  clientError?: string;
  /** Deadline for the fresh segment to reach the repository. */
  archiveTimeoutMs: number;
  systemId?: string;
  /** With a policy, retention fails when a dry run would delete something (expire not running). */
  policy?: RetentionPolicy;
  progress?: (msg: string) => void;
}

/**
 * The probe object's key prefix: a top-level object, not a directory, so that a local repository
 * keeps no empty `skytools-walmgr-check/` behind once the probe is deleted (object stores have no
 * directories; a local one would). verify-object and retention never look at it.
 */
export const PROBE_PREFIX = 'skytools-walmgr-check-';

const failed = (name: CheckName, detail: string): CheckResult => ({ name, status: 'failed', detail });
const ok = (name: CheckName, detail: string): CheckResult => ({ name, status: 'ok', detail });

async function attempt(name: CheckName, fn: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await fn();
  } catch (err) {
    return failed(name, (err as Error).message);
  }
}

async function checkRepository(storage: Storage): Promise<CheckResult> {
  await requireRepository(storage);
  const key = `${PROBE_PREFIX}${randomUUID()}`;
  const body = Buffer.from(`skytools walmgr check ${new Date().toISOString()}\n`);
  await storage.put(key, body);
  try {
    const back = await storage.get(key);
    if (!back?.body.equals(body))
      return failed(
        'repository',
        `probe object ${key} written to ${storage.description} did not read back the same`,
      );
  } finally {
    await storage.delete(key);
  }
  if (await storage.head(key))
    return failed('repository', `probe object ${key} is still in ${storage.description} after delete`);
  return ok('repository', `${storage.description}: marker ok; probe object written, read back and removed`);
}

async function checkArchive(o: CheckOptions, sysid: string): Promise<CheckResult> {
  const c = o.client;
  if (!c) return failed('archive', `no database connection (${o.clientError ?? 'pass --db'})`);
  const s = (
    await c.query<{ mode: string; cmd: string; rec: boolean }>(
      `select current_setting('archive_mode') as mode, current_setting('archive_command') as cmd,
              pg_is_in_recovery() as rec`,
    )
  ).rows[0]!;
  if (s.rec)
    return {
      name: 'archive',
      status: 'skipped',
      detail: 'the server is in recovery: run check with --db naming the primary',
    };
  if (s.mode === 'off')
    return failed(
      'archive',
      'archive_mode is off: nothing is archived (walmgr archive-command prints the settings)',
    );
  if (!s.cmd.trim()) return failed('archive', 'archive_command is empty (walmgr archive-command prints it)');
  const started = Date.now();
  // A WAL record of no table's business, so the switch below always completes a segment.
  await c.query(`select pg_logical_emit_message(false, 'skytools-walmgr-check', $1)`, [randomUUID()]);
  const seg = (await c.query<{ f: string }>('select pg_walfile_name(pg_switch_wal()) as f')).rows[0]!.f;
  const wal = parseWalName(seg);
  await waitForArchived(
    o.storage,
    c,
    walKey(sysid, wal),
    o.archiveTimeoutMs,
    (m) => o.progress?.(`check: ${m}`),
    BY_ARCHIVER,
  );
  const data = await fetchWal(o.storage, sysid, wal);
  if (!data)
    return failed('archive', `segment ${seg} was seen in ${o.storage.description} and then vanished`);
  return ok(
    'archive',
    `fresh segment ${seg} archived and verified in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

async function checkBackup(storage: Storage, m: Manifest): Promise<CheckResult> {
  const v = await verifyObject(storage, manifestKey(m.systemId, m.id));
  if (v.problems.length) return failed('backup', `newest backup ${m.id}: ${v.problems.join('; ')}`);
  return ok(
    'backup',
    `newest backup ${m.id} (${m.files.length} files, ${(m.totalSize / 1048576).toFixed(1)} MiB, stopped ${m.stopTime}): manifest matches what is stored, WAL ${m.startWal}..${m.stopWal} archived`,
  );
}

/** Segments of every timeline in the repository, by timeline. */
async function archivedSegments(storage: Storage, sysid: string, segSize: number) {
  const byTli = new Map<number, Set<bigint>>();
  const histories = new Set<number>();
  for (const o of await storage.list(`${sysid}/wal/`)) {
    const name = o.key.slice(o.key.lastIndexOf('/') + 1);
    let w: ReturnType<typeof parseWalName>;
    try {
      w = parseWalName(name);
    } catch {
      continue;
    }
    if (w.kind === 'history') histories.add(w.tli);
    if (w.kind !== 'segment') continue;
    const set = byTli.get(w.tli) ?? new Set<bigint>();
    byTli.set(w.tli, set);
    set.add(segmentNumber(name, segSize));
  }
  return { byTli, histories };
}

async function checkWal(storage: Storage, m: Manifest): Promise<CheckResult> {
  const seg = m.walSegmentSize;
  const { byTli, histories } = await archivedSegments(storage, m.systemId, seg);
  const problems: string[] = [];
  let count = 0;
  let newest = m.stopWal;
  const tlis = [...byTli.keys()].filter((t) => t >= m.timeline).sort((a, b) => a - b);
  for (const tli of tlis) {
    const have = byTli.get(tli)!;
    const nums = [...have].sort((a, b) => (a < b ? -1 : 1));
    const from = tli === m.timeline ? segmentNumber(m.startWal, seg) : nums[0]!;
    const to = nums.at(-1)!;
    if (tli > m.timeline && !histories.has(tli))
      problems.push(
        `timeline ${tli} has segments but no ${tli.toString(16).toUpperCase().padStart(8, '0')}.history`,
      );
    const missing: string[] = [];
    for (let n = from; n <= to; n++) {
      if (have.has(n)) count++;
      else missing.push(segmentName(tli, n, seg));
    }
    if (missing.length)
      problems.push(
        `timeline ${tli}: ${missing.length} segment(s) missing between ${segmentName(tli, from, seg)} and ${segmentName(tli, to, seg)}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
      );
    if (to >= from) newest = segmentName(tli, to, seg);
  }
  if (!byTli.get(m.timeline)?.has(segmentNumber(m.stopWal, seg)))
    problems.push(`segment ${m.stopWal} (the backup's stop) is not archived`);
  if (problems.length)
    return failed('wal', `from backup ${m.id}: ${problems.join('; ')}; a restore stops at the first gap`);
  return ok('wal', `${count} segments from ${m.startWal} to ${newest} present and contiguous`);
}

async function checkRetention(o: CheckOptions, sysid: string): Promise<CheckResult> {
  const refs = await listBackupRefs(o.storage, sysid);
  if (refs.length === 0) return failed('retention', 'no complete backup: run walmgr backup');
  const summary = `${refs.length} complete backup(s), oldest ${refs[0]!.id}, newest ${refs.at(-1)!.id}`;
  if (!o.policy) return ok('retention', `${summary} (no policy given: --keep-last / --max-age-days)`);
  const r = await applyRetention({ storage: o.storage, policy: o.policy, systemId: sysid, dryRun: true });
  const sys = r.systems.find((x) => x.systemId === sysid);
  // Overdue backups mean expiry is not running; WAL below the oldest backup alone (the WAL
  // from before the first backup) is only reported: it costs space, never a restore.
  const wal = sys?.expiredWal.length ?? 0;
  if (sys?.expiredBackups.length)
    return failed(
      'retention',
      `${summary}; the policy would expire ${sys.expiredBackups.length} backup(s) and ${wal} WAL file(s) now: walmgr expire (or the wal-expire Lambda) is not running`,
    );
  if (wal)
    return ok(
      'retention',
      `${summary}; no backup overdue; ${wal} WAL file(s) older than the oldest backup can be expired`,
    );
  return ok('retention', `${summary}; nothing overdue under the policy`);
}

/** Runs every check; never throws for a failed check (its verdict says why). */
export async function runChecks(o: CheckOptions): Promise<CheckResult[]> {
  const say = o.progress ?? (() => {});
  const out: CheckResult[] = [];
  const repo = await attempt('repository', () => checkRepository(o.storage));
  out.push(repo);
  say(`check: repository ${repo.status}`);
  const names: CheckName[] = ['archive', 'backup', 'wal', 'retention'];
  if (repo.status !== 'ok') {
    for (const name of names) out.push({ name, status: 'skipped', detail: 'the repository check failed' });
    return out;
  }
  // The system: the server's, else the only one in the repository.
  let sysid = o.systemId;
  if (!sysid && o.client) {
    sysid = (
      await o.client
        .query<{ s: string }>('select system_identifier::text as s from pg_control_system()')
        .catch(() => ({ rows: [] as { s: string }[] }))
    ).rows[0]?.s;
  }
  const newest = await findBackup(o.storage, 'latest', sysid).then(
    async (ref) => readManifest(o.storage, ref.systemId, ref.id),
    (err: Error) => err,
  );
  sysid ??= newest instanceof Error ? undefined : newest.systemId;
  out.push(
    sysid
      ? await attempt('archive', () => checkArchive(o, sysid))
      : failed('archive', 'no database connection and no backup to name the system; pass --db'),
  );
  say(`check: archive ${out.at(-1)!.status}`);
  if (newest instanceof Error) {
    out.push(
      failed('backup', newest.message),
      failed('wal', `no backup to restore from (${newest.message})`),
    );
  } else {
    out.push(await attempt('backup', () => checkBackup(o.storage, newest)));
    out.push(await attempt('wal', () => checkWal(o.storage, newest)));
  }
  say('check: backup and WAL done');
  out.push(
    sysid
      ? await attempt('retention', () => checkRetention(o, sysid))
      : failed('retention', 'no complete backup: run walmgr backup'),
  );
  return out;
}
