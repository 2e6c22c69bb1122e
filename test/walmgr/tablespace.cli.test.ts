// A cluster with a real tablespace (CREATE TABLESPACE in a temp dir, a table and an index in
// it): backup records it, verify checks its files, restore refuses an occupied target without
// touching anything, and restores with --tablespace-map (by name and by OID) to a point in time
// and to the end of the archive, with the table's rows exactly as they were then.
import { existsSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import { listBackups } from '../../layers/walmgr/catalog.ts';
import type { Manifest } from '../../layers/walmgr/manifest.ts';
import {
  archiveCommand,
  type Cluster,
  chownR,
  createCluster,
  startRestored,
  switchAndWaitArchived,
  tempDir,
  walmgr,
} from './harness.ts';
import { damageStoredFile } from './stored-object.ts';

describe('walmgr with a tablespace', () => {
  let primary: Cluster;
  let repo: string;
  let spcDir: string;
  let spcOid: number;
  let t1: string;
  let manifest: Manifest;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    repo = await tempDir('repo');
    cleanup.push(async () => rmSync(repo, { recursive: true, force: true }));
    expect((await walmgr(['init', '--repo', repo])).code).toBe(0);
    primary = await createCluster({ archiveCommand: archiveCommand(`--repo ${repo}`) });
    cleanup.push(() => primary.destroy());
    spcDir = await tempDir('spc');
    cleanup.push(async () => rmSync(spcDir, { recursive: true, force: true }));
    await primary.start();
    await primary.query(`create tablespace spc location '${spcDir}'`);
    spcOid = Number(
      (await primary.query<{ oid: string }>(`select oid::text from pg_tablespace where spcname = 'spc'`))[0]!
        .oid,
    );
    await primary.query('create table ts_t (id int, batch text not null) tablespace spc');
    await primary.query('create unique index ts_t_id on ts_t (id) tablespace spc');
    // Enough rows that the table is stored in pieces of 64 KiB.
    await primary.query(`insert into ts_t select g, 'a-base' from generate_series(1, 5000) g`);
    const b = await walmgr(['backup', '--repo', repo, '--db', primary.url, '--piece-size', '64k']);
    expect(b.code, b.stderr).toBe(0);
    await primary.query(`insert into ts_t select g, 'b-after' from generate_series(5001, 7000) g`);
    await primary.query(`update ts_t set batch = 'a-updated' where id <= 100`);
    [{ t: t1 }] = (await primary.query<{ t: string }>(
      `select to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' as t`,
    )) as [{ t: string }];
    await new Promise((r) => setTimeout(r, 50));
    await primary.query(`insert into ts_t select g, 'c-late' from generate_series(7001, 7500) g`);
    await primary.query(`delete from ts_t where id between 101 and 200`);
    await switchAndWaitArchived(primary);
    const storage = await openStorage(repo);
    try {
      [manifest] = (await listBackups(storage)) as [Manifest];
    } finally {
      storage.close();
    }
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  async function restoreAndRead(extra: string[], spcTarget: string, dir: string) {
    const pgdata = path.join(dir, 'data');
    const r = await walmgr(['restore', '--repo', repo, '--pgdata', pgdata, ...extra]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`tablespace ${spcOid} (spc) into ${spcTarget}`);
    expect(await fs.readlink(path.join(pgdata, 'pg_tblspc', String(spcOid)))).toBe(spcTarget);
    await chownR(dir);
    const c = await startRestored(pgdata);
    cleanup.push(() => c.destroy());
    const rows = await c.query<{ batch: string; n: number; lo: number; hi: number }>(
      'select batch, count(*)::int as n, min(id) as lo, max(id) as hi from ts_t group by batch order by batch',
    );
    const [loc] = await c.query<{ l: string }>(
      `select pg_tablespace_location(oid) as l from pg_tablespace where spcname = 'spc'`,
    );
    // The index in the tablespace answers too (an index scan, not only the heap).
    await c.query('set enable_seqscan = off');
    const [probe] = await c.query<{ batch: string }>('select batch from ts_t where id = 5001');
    await c.stop();
    return { rows, location: loc!.l, probe: probe?.batch };
  }

  it('records the tablespace and stores its files under pg_tblspc/<oid>/PG_15_…', async () => {
    expect(manifest.tablespaces).toEqual([{ oid: spcOid, name: 'spc', location: spcDir }]);
    const inSpc = manifest.files.filter((f) => f.path.startsWith(`pg_tblspc/${spcOid}/PG_15_`));
    expect(inSpc.length).toBeGreaterThanOrEqual(2);
    expect(inSpc.some((f) => f.pieces)).toBe(true);
    expect(manifest.dirs.some((d) => d.path === `pg_tblspc/${spcOid}`)).toBe(false);
    const v = await walmgr(['verify', '--repo', repo]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it('refuses to restore into the occupied original location, creating nothing', async () => {
    const dir = await tempDir('restore-occupied');
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const pgdata = path.join(dir, 'data');
    const r = await walmgr(['restore', '--repo', repo, '--pgdata', pgdata]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`tablespace ${spcOid} target ${spcDir} is not empty`);
    expect(r.stderr).toContain('--tablespace-map');
    expect(existsSync(pgdata)).toBe(false);
    const bad = await walmgr([
      'restore',
      '--repo',
      repo,
      '--pgdata',
      pgdata,
      '--tablespace-map',
      'nosuch=/tmp/x',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/no such tablespace \(its tablespaces: \d+ \(spc\)\)/);
    const orphan = await walmgr([
      'restore',
      '--repo',
      repo,
      '--pgdata',
      pgdata,
      '--tablespace-map',
      `spc=${path.join(dir, 'missing', 'spc')}`,
    ]);
    expect(orphan.code).not.toBe(0);
    expect(orphan.stderr).toMatch(/does not exist and neither does its parent/);
    expect(existsSync(pgdata)).toBe(false);
  });

  it('restores to a point in time into a new location mapped by name', async () => {
    const dir = await tempDir('restore-spc-pitr');
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const target = path.join(dir, 'spc-new');
    const got = await restoreAndRead(['--tablespace-map', `spc=${target}`, '--target-time', t1], target, dir);
    expect(got.location).toBe(target);
    expect(got.rows).toEqual([
      { batch: 'a-base', n: 4900, lo: 101, hi: 5000 },
      { batch: 'a-updated', n: 100, lo: 1, hi: 100 },
      { batch: 'b-after', n: 2000, lo: 5001, hi: 7000 },
    ]);
    expect(got.probe).toBe('b-after');
    expect((await fs.readdir(target)).some((n) => n.startsWith('PG_15_'))).toBe(true);
  });

  it('restores to the end of the archive into a new location mapped by OID', async () => {
    const dir = await tempDir('restore-spc-end');
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const target = path.join(dir, 'spc-oid');
    const got = await restoreAndRead(['--tablespace-map', `${spcOid}=${target}`], target, dir);
    expect(got.location).toBe(target);
    expect(got.rows).toEqual([
      { batch: 'a-base', n: 4800, lo: 201, hi: 5000 },
      { batch: 'a-updated', n: 100, lo: 1, hi: 100 },
      { batch: 'b-after', n: 2000, lo: 5001, hi: 7000 },
      { batch: 'c-late', n: 500, lo: 7001, hi: 7500 },
    ]);
  });

  // Last: it damages the backup.
  it('verify names a damaged tablespace file', async () => {
    const f = manifest.files.find((x) => x.path.startsWith(`pg_tblspc/${spcOid}/`) && x.size > 0)!;
    const storage = await openStorage(repo);
    try {
      await damageStoredFile(storage, manifest, f.path);
    } finally {
      storage.close();
    }
    const v = await walmgr(['verify', '--repo', repo]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(f.path);
  });
});
