// The end-to-end scenario, run per backend by backup-restore-*.test.ts: a cluster archiving
// through `skytools walmgr archive` into the repository, a base backup, more writes, then
// restores into new data directories (full, to a time, an LSN, an xid; a standby), each started
// and checked row by row.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { listBackups } from '../../layers/walmgr/catalog.ts';
import { backupFileKey, pieceKey } from '../../layers/walmgr/layout.ts';
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

async function restoreAndCount(
  repoArgs: string[],
  extra: string[],
  cleanup: (() => Promise<void>)[],
): Promise<{ batch: string; n: number }[]> {
  const dir = await tempDir('restore');
  const pgdata = path.join(dir, 'data');
  const r = await walmgr(['restore', ...repoArgs, '--pgdata', pgdata, ...extra]);
  expect(r.stderr).toContain('restore: done');
  expect(r.code).toBe(0);
  await chownR(dir);
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  const c = await startRestored(pgdata);
  cleanup.push(() => c.destroy());
  const rows = await c.query<{ batch: string; n: number }>(
    'select batch, count(*)::int as n from t group by batch order by batch',
  );
  await c.stop();
  return rows;
}

export function scenario(
  name: string,
  makeRepo: () => Promise<{ repoArgs: string[]; done: () => Promise<void> }>,
  opts: { more?: boolean; pieceSize?: string } = {},
) {
  describe(name, () => {
    let primary: Cluster;
    let repoArgs: string[];
    let t1: string;
    let lsn1: string;
    let xid1: string;
    const cleanup: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      const repo = await makeRepo();
      cleanup.push(repo.done);
      repoArgs = repo.repoArgs;
      // As a user would: a repository is initialised before anything archives into it.
      const init = await walmgr(['init', ...repoArgs]);
      expect(init.code, init.stderr).toBe(0);
      primary = await createCluster({ archiveCommand: archiveCommand(repoArgs.join(' ')) });
      cleanup.push(() => primary.destroy());
      await primary.start();
      await primary.query('create table t (id int primary key, batch text not null)');
      await primary.query(`insert into t select g, 'a-base' from generate_series(1, 1000) g`);
      const b = await walmgr([
        'backup',
        ...repoArgs,
        '--db',
        primary.url,
        ...(opts.pieceSize ? ['--piece-size', opts.pieceSize] : []),
      ]);
      expect(b.stderr).toContain('done');
      expect(b.code, b.stderr).toBe(0);
      [{ x: xid1 }] = (await primary.query<{ x: string }>(
        `with i as (insert into t select g, 'b-after' from generate_series(1001, 3000) g returning 1) select txid_current()::text as x from i limit 1`,
      )) as [{ x: string }];
      // A point in time and an LSN between the 'b-after' and 'c-late' commits.
      [{ t: t1 }] = (await primary.query<{ t: string }>(
        `select to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' as t`,
      )) as [{ t: string }];
      [{ l: lsn1 }] = (await primary.query<{ l: string }>('select pg_current_wal_lsn()::text as l')) as [
        { l: string },
      ];
      await new Promise((r) => setTimeout(r, 50));
      await primary.query(`insert into t select g, 'c-late' from generate_series(3001, 3500) g`);
      await switchAndWaitArchived(primary);
    });

    afterAll(async () => {
      for (const f of cleanup.reverse()) await f().catch(() => {});
    });

    it('lists and verifies the backup', async () => {
      const l = await walmgr(['listbackups', ...repoArgs, '--json']);
      expect(l.code, l.stderr).toBe(0);
      const list = JSON.parse(l.stdout) as { id: string; timeline: number; fileCount: number }[];
      expect(list).toHaveLength(1);
      expect(list[0]!.timeline).toBe(1);
      const v = await walmgr(['verify', ...repoArgs]);
      expect(v.stdout).toContain(': ok');
      expect(v.code).toBe(0);
    });

    it.runIf(opts.pieceSize)('stores files larger than --piece-size in pieces', async () => {
      const storage = await openRepo(repoArgs);
      try {
        const [m] = await listBackups(storage);
        const pieced = m!.files.filter((f) => f.pieces);
        expect(pieced.length).toBeGreaterThan(0);
        for (const f of pieced) {
          expect(f.pieces).toHaveLength(Math.ceil(f.size / m!.pieceSize!));
          expect(f.pieces!.reduce((t, p) => t + p.size, 0)).toBe(f.size);
        }
      } finally {
        storage.close();
      }
    });

    it('restores to the end of the archive with every committed row', async () => {
      const rows = await restoreAndCount(repoArgs, [], cleanup);
      expect(rows).toEqual([
        { batch: 'a-base', n: 1000 },
        { batch: 'b-after', n: 2000 },
        { batch: 'c-late', n: 500 },
      ]);
    });

    it('restores to a point in time', async () => {
      const rows = await restoreAndCount(repoArgs, ['--target-time', t1], cleanup);
      expect(rows).toEqual([
        { batch: 'a-base', n: 1000 },
        { batch: 'b-after', n: 2000 },
      ]);
    });

    it('restores to an LSN', async () => {
      const rows = await restoreAndCount(repoArgs, ['--target-lsn', lsn1], cleanup);
      expect(rows).toEqual([
        { batch: 'a-base', n: 1000 },
        { batch: 'b-after', n: 2000 },
      ]);
    });

    it.runIf(opts.more)('restores to a transaction id', async () => {
      const rows = await restoreAndCount(repoArgs, ['--target-xid', xid1], cleanup);
      expect(rows).toEqual([
        { batch: 'a-base', n: 1000 },
        { batch: 'b-after', n: 2000 },
      ]);
    });

    it.runIf(opts.more)('restores a standby that stays in recovery, replaying the archive', async () => {
      const dir = await tempDir('standby');
      const pgdata = path.join(dir, 'data');
      const r = await walmgr(['restore', ...repoArgs, '--pgdata', pgdata, '--standby']);
      expect(r.code, r.stderr).toBe(0);
      await chownR(dir);
      const c = await createCluster({ pgdata, conf: { archive_mode: 'off' } });
      cleanup.push(async () => {
        await c.destroy();
        rmSync(dir, { recursive: true, force: true });
      });
      await c.start();
      const count = async () => (await c.query<{ n: number }>('select count(*)::int as n from t'))[0]?.n;
      await waitFor(async () => (await count()) === 3500, 60_000, 'standby replay', c);
      expect((await c.query<{ r: boolean }>('select pg_is_in_recovery() as r'))[0]!.r).toBe(true);
      // New WAL archived by the primary reaches the standby through restore-wal.
      await primary.query(`insert into t select g, 'd-standby' from generate_series(3501, 3510) g`);
      await switchAndWaitArchived(primary);
      await waitFor(async () => (await count()) === 3510, 60_000, 'standby catches up', c);

      // walmgr pause / continue / boot, as the original's standby commands.
      const paused = await walmgr(['pause', '--db', c.url]);
      expect(paused.code, paused.stderr).toBe(0);
      expect(paused.stdout).toMatch(/^paus(ed|e requested)/);
      expect((await c.query<{ s: string }>('select pg_get_wal_replay_pause_state() as s'))[0]!.s).not.toBe(
        'not paused',
      );
      const resumed = await walmgr(['continue', '--db', c.url]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(/^not paused/);
      await primary.query(`insert into t select g, 'e-resumed' from generate_series(3511, 3520) g`);
      await switchAndWaitArchived(primary);
      await waitFor(async () => (await count()) === 3520, 60_000, 'standby replays after continue', c);
      const booted = await walmgr(['boot', '--db', c.url]);
      expect(booted.code, booted.stderr).toBe(0);
      expect(booted.stdout).toMatch(/^promoted/);
      expect((await c.query<{ r: boolean }>('select pg_is_in_recovery() as r'))[0]!.r).toBe(false);
      await c.query(`insert into t values (9999, 'written after boot')`);
      const again = await walmgr(['boot', '--db', c.url]);
      expect(again.code).not.toBe(0);
      expect(again.stderr).toMatch(/not in recovery/);
      await c.stop();
    });

    // Last: it damages the backup.
    it.runIf(opts.pieceSize)('verify and restore name a corrupted piece and stop', async () => {
      const storage = await openRepo(repoArgs);
      let key: string;
      try {
        const [m] = await listBackups(storage);
        const f = m!.files.find((x) => x.pieces && x.pieces.length > 1)!;
        key = pieceKey(backupFileKey(m!.systemId, m!.id, f.path), 1);
        const obj = await storage.get(key);
        const body = Buffer.from(obj!.body);
        body[body.length >> 1]! ^= 0xff;
        await storage.put(key, body, { metadata: obj!.info.metadata });
      } finally {
        storage.close();
      }
      const v = await walmgr(['verify', ...repoArgs]);
      expect(v.code).toBe(1);
      expect(v.stdout).toContain('FAILED');
      expect(`${v.stdout}${v.stderr}`).toMatch(/piece 1/);
      const dir = await tempDir('restore-bad');
      cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
      const r = await walmgr(['restore', ...repoArgs, '--pgdata', path.join(dir, 'data')]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/piece 1 (is corrupt|could not be decompressed)/);
    });
  });
}

/** The repository named by --repo/--endpoint in a scenario's arguments. */
async function openRepo(repoArgs: string[]): Promise<Storage> {
  const arg = (flag: string) => {
    const i = repoArgs.indexOf(flag);
    return i >= 0 ? repoArgs[i + 1] : undefined;
  };
  const endpoint = arg('--endpoint');
  return openStorage(arg('--repo')!, endpoint ? { endpoint, conditionalPut: false } : {});
}
