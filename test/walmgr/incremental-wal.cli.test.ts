// Incremental backups that leave unread the pieces the WAL since their reference names no page
// of (layers/walmgr/wal-window.ts), where that is hardest: in the window a vacuum truncates a
// table and new rows extend it again, a TRUNCATE gives a table a new file, an index is rebuilt,
// and so much WAL is written that the server has recycled the window's first segments (they
// come from the repository then); a later window holds a CREATE DATABASE, where the WAL gives no
// answer and every piece is read as before; then two windows of a few changed rows (and a
// vacuum marking a table all-visible, which names its pages but changes none), where a
// piece is stored as a page delta from the pages the WAL names alone, the second over the
// first's delta. Each backup of the chain restores to exactly the rows the primary had.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import { runPages } from '../../layers/walmgr/incremental.ts';
import { type ManifestPiece, readManifest } from '../../layers/walmgr/manifest.ts';
import {
  archiveCommand,
  type Cluster,
  createCluster,
  startRestored,
  switchAndWaitArchived,
  tempDir,
  walmgr,
} from './harness.ts';

const DIGEST = `select (select md5(string_agg(id || ':' || v, ',' order by id)) from t) as t,
  (select md5(string_agg(id || ':' || v, ',' order by id)) from u) as u,
  (select count(*) from t where v like 'late%')::int as late`;

describe('walmgr incremental backups by the WAL since the reference', () => {
  let primary: Cluster;
  let repo: string;
  const cleanup: (() => Promise<void>)[] = [];
  const digests: Record<string, unknown> = {};
  const lsns: Record<string, string> = {};
  /** The rows now, and the WAL position they are at (nothing writes in between). */
  async function mark(id: string) {
    digests[id] = (await primary.query(DIGEST))[0];
    lsns[id] = (await primary.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l;
  }
  const stderr: Record<string, string> = {};

  async function backup(...extra: string[]): Promise<string> {
    const b = await walmgr(['backup', '--repo', repo, '--db', primary.url, ...extra]);
    expect(b.code, b.stderr).toBe(0);
    const id = b.stdout.trim();
    stderr[id] = b.stderr;
    return id;
  }

  const ids: string[] = [];

  beforeAll(async () => {
    repo = await tempDir('repo-walmap');
    cleanup.push(async () => rmSync(repo, { recursive: true, force: true }));
    expect((await walmgr(['init', '--repo', repo])).code).toBe(0);
    // 1 MiB segments and little WAL kept: the server recycles segments of the window.
    primary = await createCluster({
      archiveCommand: archiveCommand(`--repo ${repo}`),
      conf: { max_wal_size: '32MB', min_wal_size: '32MB', wal_keep_size: '0', checkpoint_timeout: '30s' },
    });
    cleanup.push(() => primary.destroy());
    await primary.start();
    await primary.query('create table t (id int primary key, v text) with (autovacuum_enabled = off)');
    await primary.query(`insert into t select g, repeat('a', 100) from generate_series(1, 250000) g`);
    await primary.query('create table u (id int, v text) with (autovacuum_enabled = off)');
    await primary.query(`insert into u select g, 'u' || g from generate_series(1, 20000) g`);
    await primary.query('create index u_id on u (id)');
    ids.push(await backup('--piece-size', '64k'));

    // Window 1: the tail of t deleted and truncated away by vacuum, then new rows in its place;
    // u emptied by TRUNCATE (a new file) and loaded again; the index rebuilt; a few rows changed.
    await primary.query('delete from t where id > 240000');
    await primary.query('vacuum t');
    await primary.query(`insert into t select g, 'late' || g from generate_series(240001, 243000) g`);
    await primary.query('truncate u');
    await primary.query(`insert into u select g, 'v' || g from generate_series(1, 15000) g`);
    await primary.query('reindex index u_id');
    await primary.query(`update t set v = 'b' where id in (5, 500, 5000)`);
    // …and enough WAL besides that its first segments are recycled before the backup.
    await primary.query('create table filler (x text)');
    for (let i = 0; i < 4; i++) {
      await primary.query(`insert into filler select repeat('f', 1000) from generate_series(1, 1500)`);
      await primary.query('truncate filler');
      await primary.query('checkpoint');
    }
    ids.push(await backup('--type', 'incr'));
    await mark(ids.at(-1)!);

    // Window 2: a database created — the WAL gives no answer, the page-LSN rule reads it all.
    await primary.query('create database other');
    await primary.query(`update t set v = 'c' where id between 100 and 150`);
    await primary.query('vacuum t'); // marks the updated pages all-visible again, moving no LSN
    ids.push(await backup('--type', 'incr'));
    await mark(ids.at(-1)!);

    // Windows 3 and 4: a few rows of t changed each time — pieces stored from the pages the WAL
    // names alone; in window 4 the reference's delta pages of those pieces are named by no record
    // and are read all the same (a delta holds every page that differs from its base).
    await primary.query('vacuum u'); // all-visible marking: names every page of u, moves no LSN
    await primary.query(`update t set v = 'd' where id in (1000, 1001, 90000)`);
    ids.push(await backup('--type', 'incr'));
    await mark(ids.at(-1)!);
    await primary.query(`update t set v = 'e' where id in (1300, 90001, 200000)`); // 1300: a page beside 1000's
    ids.push(await backup('--type', 'incr'));
    await mark(ids.at(-1)!);
    await primary.query(`update t set v = 'after' where id < 50`); // past the targets
    await switchAndWaitArchived(primary);
  }, 240_000);

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  it('leaves pieces unread by the WAL, reads what the WAL cannot vouch for', () => {
    const first = stderr[ids[1]!]!;
    expect(first).toMatch(
      /WAL record\(s\) in \d+ segment\(s\) since the reference \(\d+ from pg_wal, [1-9]\d* from the repository\)/,
    );
    expect(first).toMatch(/, (?!0\.0 )[\d.]+ MiB of that by the WAL's block references, not read\)/);
    const second = stderr[ids[2]!]!;
    expect(second).toMatch(
      /a database was created, moved or dropped at [0-9A-F/]+; reading page LSNs instead/,
    );
    expect(second).not.toMatch(/by the WAL's block references/);
  });

  it('stores a piece the WAL names a few pages of from those pages alone, over a chain', async () => {
    const storage = await openStorage(repo);
    try {
      const sysid = (
        await primary.query<{ s: string }>('select system_identifier::text as s from pg_control_system()')
      )[0]!.s;
      const deltas = async (id: string) =>
        new Map(
          (await readManifest(storage, sysid, id)).files
            .filter((f) => f.path.startsWith('base/'))
            .flatMap((f) =>
              (f.pieces ?? []).flatMap((p, n) => (p.pages && !p.ref ? [[`${f.path}~${n}`, p] as const] : [])),
            ),
        );
      const pagesOf = (p: ManifestPiece) => runPages(p.pages!.runs);
      const [third, fourth] = [await deltas(ids[3]!), await deltas(ids[4]!)];
      for (const [id, d] of [
        [ids[3]!, third],
        [ids[4]!, fourth],
      ] as const) {
        // Not read whole, so not hashed whole: '' as the whole piece's SHA-256.
        const named = [...d.values()].filter((p) => p.sha256 === '');
        expect(named.length, id).toBeGreaterThan(0);
        for (const p of named) expect(p.pages!.base.ref).not.toBe(id);
      }
      // A piece both windows changed: window 4's delta still holds window 3's pages, which no
      // record of window 4 names, beside its own.
      const both = [...fourth].filter(([k, p]) => {
        const before = third.get(k);
        return (
          before &&
          pagesOf(before).every((x) => pagesOf(p).includes(x)) &&
          pagesOf(p).length > pagesOf(before).length
        );
      });
      expect(both.length).toBeGreaterThan(0);
      expect(stderr[ids[4]!]!).toMatch(/; [1-9]\d* piece\(s\) stored as their changed pages/);
    } finally {
      storage.close();
    }
  });

  it.each([1, 2, 3, 4])('restores incremental %i of the chain exactly', async (n) => {
    const dir = await tempDir(`restore-walmap-${n}`);
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const pgdata = path.join(dir, 'data');
    // Recovery stops where the rows were read, right after the backup.
    const r = await walmgr([
      'restore',
      '--repo',
      repo,
      '--pgdata',
      pgdata,
      '--backup',
      ids[n]!,
      '--target-lsn',
      lsns[ids[n]!]!,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const c = await startRestored(pgdata);
    cleanup.push(() => c.destroy());
    expect((await c.query(DIGEST))[0]).toEqual(digests[ids[n]!]);
    expect((await c.query<{ n: number }>('select count(*)::int as n from u where id < 100'))[0]!.n).toBe(99);
    // The visibility map and the pages agree: a page the map calls all-visible says so itself
    // (vacuum marks a page without moving its LSN; taken from the reference, it would not say so,
    // and a later write to it would leave the map's bit set: wrong index-only scans).
    await c.query('create extension if not exists pg_visibility');
    for (const table of ['t', 'u'])
      expect(
        (
          await c.query<{ n: number }>(
            `select count(*)::int as n from pg_visibility('${table}') where all_visible and not pd_all_visible`,
          )
        )[0]!.n,
        table,
      ).toBe(0);
    await c.stop();
  });
});
