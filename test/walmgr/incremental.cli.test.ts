// Incremental and differential backups on a real cluster: full → incr → incr, each after a
// small change; unchanged files and pieces are referred to (not stored again), the chain restores
// to a point in time with the table exactly as it was then, a diff refers to the full backup
// only, retention keeps what a kept backup refers to, pieces where few pages changed are stored as
// those pages over the full backup's piece, and a corrupted object stored in the middle backup of
// the chain (a page delta, the base under it, a file) is caught by verify and restore of the last.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import { backupFileKey, manifestKey, pieceKey } from '../../layers/walmgr/layout.ts';
import { type Manifest, readManifest } from '../../layers/walmgr/manifest.ts';
import { verifyObject } from '../../layers/walmgr/verify-object.ts';
import {
  archiveCommand,
  type Cluster,
  createCluster,
  startRestored,
  switchAndWaitArchived,
  tempDir,
  walmgr,
} from './harness.ts';
import { damageStoredFile } from './stored-object.ts';

const DIGEST = `select count(*)::int as n, md5(string_agg(id || ':' || batch, ',' order by id)) as h from t`;

describe('walmgr incremental backups', () => {
  let primary: Cluster;
  let repo: string;
  let sysid: string;
  const ids: Record<'full' | 'incr1' | 'incr2', string> = { full: '', incr1: '', incr2: '' };
  const m: Partial<Record<'full' | 'incr1' | 'incr2', Manifest>> = {};
  const stderr: Record<string, string> = {};
  let t2: string;
  let atT2: { n: number; h: string };
  let frozenPath: string;
  const cleanup: (() => Promise<void>)[] = [];

  /** The full backup sets 64k pieces; a diff/incr without --piece-size keeps its reference's. */
  async function backup(name: string, ...extra: string[]): Promise<string> {
    const size = name === 'full' ? ['--piece-size', '64k'] : [];
    const b = await walmgr(['backup', '--repo', repo, '--db', primary.url, ...size, ...extra]);
    expect(b.code, b.stderr).toBe(0);
    stderr[name] = b.stderr;
    return b.stdout.trim();
  }

  async function manifest(id: string): Promise<Manifest> {
    const storage = await openStorage(repo);
    try {
      return await readManifest(storage, sysid, id);
    } finally {
      storage.close();
    }
  }

  beforeAll(async () => {
    repo = await tempDir('repo');
    cleanup.push(async () => rmSync(repo, { recursive: true, force: true }));
    expect((await walmgr(['init', '--repo', repo])).code).toBe(0);
    primary = await createCluster({ archiveCommand: archiveCommand(`--repo ${repo}`) });
    cleanup.push(() => primary.destroy());
    await primary.start();
    sysid = (
      await primary.query<{ s: string }>('select system_identifier::text as s from pg_control_system()')
    )[0]!.s;
    await primary.query('create table t (id int primary key, batch text not null, pad text)');
    await primary.query(`insert into t select g, 'a', repeat('x', 200) from generate_series(1, 20000) g`);
    ids.full = await backup('full');

    // 1%: some rows updated, a few added; and a table that stays as it is from here on.
    await primary.query(`update t set batch = 'b' where id <= 200`);
    await primary.query(`insert into t select g, 'b', 'y' from generate_series(20001, 20050) g`);
    await primary.query('create table frozen (id int) with (autovacuum_enabled = off)');
    await primary.query('insert into frozen select generate_series(1, 100)');
    await primary.query('vacuum (freeze) frozen');
    frozenPath = (await primary.query<{ p: string }>(`select pg_relation_filepath('frozen') as p`))[0]!.p;
    ids.incr1 = await backup('incr1', '--type', 'incr');

    await primary.query(`update t set batch = 'c' where id between 10001 and 10200`);
    ids.incr2 = await backup('incr2', '--type', 'incr');
    await primary.query(`insert into t select g, 'c2', 'z' from generate_series(20051, 20060) g`);
    [{ t: t2 }] = (await primary.query<{ t: string }>(
      `select to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' as t`,
    )) as [{ t: string }];
    [atT2] = (await primary.query<{ n: number; h: string }>(DIGEST)) as [{ n: number; h: string }];
    await new Promise((r) => setTimeout(r, 50));
    await primary.query(`update t set batch = 'd' where id <= 5000`);
    await switchAndWaitArchived(primary);
    for (const k of ['full', 'incr1', 'incr2'] as const) m[k] = await manifest(ids[k]);
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  it('stores only what changed and refers to the rest', async () => {
    const full = m.full!;
    const incr1 = m.incr1!;
    const incr2 = m.incr2!;
    expect(full.type ?? 'full').toBe('full');
    expect(incr1).toMatchObject({ type: 'incr', reference: full.id, references: [full.id] });
    expect(incr2).toMatchObject({ type: 'incr', reference: incr1.id });
    expect(incr2.references).toEqual([full.id, incr1.id].sort());
    // The big table's file is in pieces; some are referred to, the changed ones stored again.
    const tPath = (await primary.query<{ p: string }>(`select pg_relation_filepath('t') as p`))[0]!.p;
    const big = incr1.files.find((f) => f.path === tPath)!;
    expect(big.pieces!.length).toBeGreaterThan(4);
    expect([full.pieceSize, incr1.pieceSize, incr2.pieceSize]).toEqual([65536, 65536, 65536]);
    expect(big.pieces!.some((p) => p.ref === full.id)).toBe(true);
    expect(big.pieces!.some((p) => !p.ref)).toBe(true);
    expect(incr1.storedSize).toBeLessThan(full.storedSize / 2);
    expect(incr2.storedSize).toBeLessThan(full.storedSize / 2);
    expect(incr2.files.find((f) => f.path === frozenPath)!.ref).toBe(incr1.id);
    // Pieces where few pages changed are stored as those pages over the full backup's piece
    // (format 4); a delta of a delta keeps that base, so a chain never goes deeper than one.
    const ownDeltas = (mm: Manifest) =>
      mm.files.flatMap((f) => (f.pieces ?? []).filter((p) => p.pages && !p.ref));
    expect(ownDeltas(incr1).length).toBeGreaterThan(0);
    expect(ownDeltas(incr2).length).toBeGreaterThan(0);
    expect([full.format, incr1.format, incr2.format]).toEqual([3, 4, 4]);
    for (const p of [...ownDeltas(incr1), ...ownDeltas(incr2)]) {
      expect(p.pages!.base.ref).toBe(full.id);
      expect(p.storedSize).toBeLessThan(p.pages!.base.storedSize);
    }
    expect(stderr.incr1).toMatch(/; [1-9]\d* piece\(s\) stored as their changed pages/);
    expect(stderr.incr1).toMatch(/incr against \S+/);
    expect(stderr.incr1).toMatch(/MiB unchanged since/);
    // Most of the big table's pieces were taken as unchanged by their pages' LSNs, unhashed.
    expect(stderr.incr1).toMatch(/\((?!0\.0 )[\d.]+ MiB of it by page LSN[,)]/);
    // …and most of those not even read: the WAL since the reference names none of their pages
    // (wal-window.ts; the chain's exact restores below check that this is sound).
    expect(stderr.incr1).toMatch(/WAL record\(s\) in \d+ segment\(s\) since the reference/);
    expect(stderr.incr1).toMatch(/, (?!0\.0 )[\d.]+ MiB of that by the WAL's block references, not read\)/);
    expect(stderr.incr2).toMatch(/, (?!0\.0 )[\d.]+ MiB of that by the WAL's block references, not read\)/);
    // Where its time went, stage by stage (the fixed cost of a small incremental is in them).
    expect(stderr.incr1).toMatch(
      /stages: server \+ reference [\d.]+ s, pg_backup_start \(fast checkpoint\) [\d.]+ s, walk [\d.]+ s, WAL since the reference \(alongside\) [\d.]+ s, files [\d.]+ s, pg_backup_stop [\d.]+ s, WAL wait [\d.]+ s, manifest [\d.]+ s \(this process: CPU [\d.]+ s/,
    );
    const v = await walmgr(['verify', '--repo', repo, '--backup', 'all']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // The Lambda's manifest check finds the referred objects where they are stored.
    const storage = await openStorage(repo);
    try {
      const verdict = await verifyObject(storage, manifestKey(sysid, incr2.id));
      expect(verdict).toMatchObject({ kind: 'backup', problems: [] });
    } finally {
      storage.close();
    }
  });

  it('restores the last backup of the chain to a point in time exactly', async () => {
    const dir = await tempDir('restore-incr');
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const pgdata = path.join(dir, 'data');
    const r = await walmgr([
      'restore',
      '--repo',
      repo,
      '--pgdata',
      pgdata,
      '--backup',
      ids.incr2,
      '--target-time',
      t2,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const c = await startRestored(pgdata);
    cleanup.push(() => c.destroy());
    expect((await c.query<{ n: number; h: string }>(DIGEST))[0]).toEqual(atT2);
    expect((await c.query<{ n: number }>('select count(*)::int as n from frozen'))[0]!.n).toBe(100);
    await c.stop();
  });

  it('takes a diff against the newest full backup, and retention keeps what kept backups refer to', async () => {
    const diffId = await backup('diff', '--type', 'diff');
    const diff = await manifest(diffId);
    expect(diff).toMatchObject({ type: 'diff', reference: ids.full, references: [ids.full] });
    const dry = await walmgr(['expire', '--repo', repo, '--keep-last', '1', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    // The newest (the diff) is kept with the full backup it refers to; the incrementals go.
    expect(dry.stdout).toContain(`kept 2 backup(s) [${[ids.full, diffId].sort().join(', ')}]`);
    expect(dry.stdout).toContain(`would delete 2 backup(s) [${[ids.incr1, ids.incr2].sort().join(', ')}]`);
  });

  it('names a corrupted page delta and a corrupted base piece under it, on verify', async () => {
    const tPath = (await primary.query<{ p: string }>(`select pg_relation_filepath('t') as p`))[0]!.p;
    const pieces = m.incr2!.files.find((f) => f.path === tPath)!.pieces!;
    const n = pieces.findIndex((p) => p.pages && !p.ref);
    expect(n).toBeGreaterThanOrEqual(0);
    const storage = await openStorage(repo);
    try {
      const cases = [
        [
          pieceKey(backupFileKey(sysid, ids.incr2, tPath), n),
          `${tPath} piece ${n} (page delta over backup ${ids.full})`,
        ],
        [
          pieceKey(backupFileKey(sysid, ids.full, tPath), n),
          `${tPath} piece ${n} (the base of its page delta) (stored in backup ${ids.full})`,
        ],
      ] as const;
      for (const [key, named] of cases) {
        const obj = (await storage.get(key))!;
        const bad = Buffer.from(obj.body);
        bad[bad.length >> 1]! ^= 0xff;
        await storage.put(key, bad, { metadata: obj.info.metadata });
        try {
          const v = await walmgr(['verify', '--repo', repo, '--backup', ids.incr2]);
          expect(v.code).toBe(1);
          expect(v.stdout).toContain(named);
        } finally {
          await storage.put(key, Buffer.from(obj.body), { metadata: obj.info.metadata });
        }
      }
      const v = await walmgr(['verify', '--repo', repo, '--backup', ids.incr2]);
      expect(v.code, v.stdout).toBe(0);
    } finally {
      storage.close();
    }
  });

  // Last: it damages the middle backup.
  it('names a corrupted object stored in the middle of the chain, on verify and restore', async () => {
    const storage = await openStorage(repo);
    try {
      // Where incr1 stored it: its own object, or its place in one of incr1's bundles.
      const key = await damageStoredFile(storage, await readManifest(storage, sysid, ids.incr1), frozenPath);
      expect(key).toContain(`/backups/${ids.incr1}/data/`);
      // The key a piece would have exists nowhere: the small file is not stored in pieces.
      expect(await storage.head(pieceKey(backupFileKey(sysid, ids.incr1, frozenPath), 0))).toBeNull();
    } finally {
      storage.close();
    }
    const v = await walmgr(['verify', '--repo', repo, '--backup', ids.incr2]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`${frozenPath} (stored in backup ${ids.incr1})`);
    const dir = await tempDir('restore-incr-bad');
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const r = await walmgr([
      'restore',
      '--repo',
      repo,
      '--pgdata',
      path.join(dir, 'data'),
      '--backup',
      ids.incr2,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(
        `${frozenPath} \\(stored in backup ${ids.incr1.replace('.', '\\.')}\\)( in bundle \\S+)? (is corrupt|could not be decompressed)`,
      ),
    );
  });
});
