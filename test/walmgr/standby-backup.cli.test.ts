// Backup from a standby: a primary archiving into a local repository, a standby restored from
// a walmgr backup of it (restore --standby, plus streaming from the primary so it is current),
// then `walmgr backup --db <standby> --primary-db <primary>`: the backup is taken on the standby
// (its label says so), and restoring it — to the end of the archive and to a point in time just
// after it — gives the primary's rows exactly.
import { rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import { readManifest } from '../../layers/walmgr/manifest.ts';
import {
  archiveCommand,
  type Cluster,
  chownR,
  createCluster,
  startRestored,
  switchAndWaitArchived,
  tempDir,
  waitFor,
  walmgr,
} from './harness.ts';

type Row = { batch: string; n: number };
const COUNT = 'select batch, count(*)::int as n from t group by batch order by batch';

describe('walmgr backup from a standby', () => {
  let primary: Cluster;
  let standby: Cluster;
  let repo: string;
  let backupId: string;
  let backupStderr: string;
  let t1: string;
  const cleanup: (() => Promise<void>)[] = [];

  async function restoreAndCount(extra: string[]): Promise<Row[]> {
    const dir = await tempDir('restore-from-standby');
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const pgdata = path.join(dir, 'data');
    const r = await walmgr(['restore', '--repo', repo, '--pgdata', pgdata, '--backup', backupId, ...extra]);
    expect(r.code, r.stderr).toBe(0);
    const c = await startRestored(pgdata);
    cleanup.push(() => c.destroy());
    const rows = await c.query<Row>(COUNT);
    await c.stop();
    return rows;
  }

  beforeAll(async () => {
    repo = await tempDir('repo');
    cleanup.push(async () => rmSync(repo, { recursive: true, force: true }));
    expect((await walmgr(['init', '--repo', repo])).code).toBe(0);
    primary = await createCluster({ archiveCommand: archiveCommand(`--repo ${repo}`) });
    cleanup.push(() => primary.destroy());
    await primary.start();
    await primary.query('create table t (id int primary key, batch text not null)');
    await primary.query(`insert into t select g, 'a-base' from generate_series(1, 2000) g`);
    const b0 = await walmgr(['backup', '--repo', repo, '--db', primary.url]);
    expect(b0.code, b0.stderr).toBe(0);

    // The standby: restored from that backup, replaying the archive and streaming from the primary.
    const sdir = await tempDir('standby');
    cleanup.push(async () => rmSync(sdir, { recursive: true, force: true }));
    const spgdata = path.join(sdir, 'data');
    const r = await walmgr(['restore', '--repo', repo, '--pgdata', spgdata, '--standby']);
    expect(r.code, r.stderr).toBe(0);
    await fs.appendFile(
      path.join(spgdata, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres'\n`,
    );
    await chownR(sdir);
    standby = await createCluster({ pgdata: spgdata, conf: { archive_mode: 'off', hot_standby: 'on' } });
    cleanup.push(() => standby.destroy());
    await standby.start();
    await primary.query(`insert into t select g, 'b-before' from generate_series(2001, 5000) g`);
    await waitFor(
      async () => (await standby.query<{ n: number }>('select count(*)::int as n from t'))[0]?.n === 5000,
      90_000,
      'standby streams the new rows',
      standby,
    );
    expect((await standby.query<{ r: boolean }>('select pg_is_in_recovery() as r'))[0]!.r).toBe(true);

    const b = await walmgr([
      'backup',
      '--repo',
      repo,
      '--db',
      standby.url,
      '--primary-db',
      primary.url,
      '--archive-timeout',
      '60',
    ]);
    expect(b.code, b.stderr).toBe(0);
    backupId = b.stdout.trim();
    backupStderr = b.stderr;
    [{ t: t1 }] = (await primary.query<{ t: string }>(
      `select to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' as t`,
    )) as [{ t: string }];
    await new Promise((res) => setTimeout(res, 50));
    await primary.query(`insert into t select g, 'c-after' from generate_series(5001, 5500) g`);
    await switchAndWaitArchived(primary);
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  it('takes the backup on the standby', async () => {
    expect(backupStderr).toContain('from a standby');
    const storage = await openStorage(repo);
    try {
      const [sysid] = (await primary.query<{ s: string }>(
        'select system_identifier::text as s from pg_control_system()',
      )) as [{ s: string }];
      const m = await readManifest(storage, sysid.s, backupId);
      expect(m.fromStandby).toBe(true);
      expect(m.backupLabel).toMatch(/BACKUP FROM: standby/);
    } finally {
      storage.close();
    }
    const v = await walmgr(['verify', '--repo', repo, '--backup', backupId]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it("restores the standby's backup to the end of the archive with the primary's rows", async () => {
    expect(await restoreAndCount([])).toEqual([
      { batch: 'a-base', n: 2000 },
      { batch: 'b-before', n: 3000 },
      { batch: 'c-after', n: 500 },
    ]);
  });

  it("restores the standby's backup to a point in time after it", async () => {
    expect(await restoreAndCount(['--target-time', t1])).toEqual([
      { batch: 'a-base', n: 2000 },
      { batch: 'b-before', n: 3000 },
    ]);
  });

  it('refuses --primary-db when --db is not a standby, or names another system', async () => {
    const notStandby = await walmgr([
      'backup',
      '--repo',
      repo,
      '--db',
      primary.url,
      '--primary-db',
      primary.url,
    ]);
    expect(notStandby.code).not.toBe(0);
    expect(notStandby.stderr).toMatch(/only for a backup from a standby/);
    const other = await createCluster();
    cleanup.push(() => other.destroy());
    await other.start();
    const wrong = await walmgr(['backup', '--repo', repo, '--db', standby.url, '--primary-db', other.url]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/not primary and standby/);
  });
});
