// Waiting for the archiver (backup's last step, check's round trip) on a real cluster archiving
// through walmgr into a local repository: the wait ends once the archiver's statistics show the
// file and the repository has it, asking the repository only when the statistics changed (or
// every headEveryMs), and a failing archive_command ends it at the deadline, named.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../../layers/storage/index.ts';
import { archivedPast, waitForArchived } from '../../layers/walmgr/archive-wait.ts';
import { walKey } from '../../layers/walmgr/layout.ts';
import { parseWalName } from '../../layers/walmgr/wal.ts';
import { archiveCommand, type Cluster, createCluster, initRepo, tempDir, waitFor } from './harness.ts';

describe('waitForArchived', () => {
  let c: Cluster;
  let repo: string;
  let storage: Storage;
  let client: pg.Client;
  let sysid: string;
  let heads = 0;
  const cleanup: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    repo = await tempDir('repo-wait');
    cleanup.push(() => rmSync(repo, { recursive: true, force: true }));
    await initRepo(repo);
    c = await createCluster({ archiveCommand: archiveCommand(`--repo ${repo}`) });
    cleanup.push(() => c.destroy());
    await c.start();
    const real = await openStorage(repo);
    cleanup.push(() => real.close());
    // The real repository, its HEADs counted.
    storage = Object.assign(Object.create(real) as Storage, {
      head: (key: string) => {
        heads++;
        return real.head(key);
      },
    });
    client = new pg.Client({ connectionString: c.url });
    await client.connect();
    cleanup.push(() => client.end());
    sysid = (
      await client.query<{ s: string }>('select system_identifier::text as s from pg_control_system()')
    ).rows[0]!.s;
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => {});
  });

  const switchWal = async (): Promise<string> =>
    (await client.query<{ f: string }>('select pg_walfile_name(pg_switch_wal()) as f')).rows[0]!.f;

  it('ends once the archiver stored the segment, asking the repository only when its statistics move', async () => {
    await client.query('create table t as select generate_series(1, 1000) g');
    const name = await switchWal();
    heads = 0;
    const said: string[] = [];
    const t0 = Date.now();
    await waitForArchived(storage, client, walKey(sysid, parseWalName(name)), 60_000, (m) => said.push(m), {
      pollMs: 10,
      maxPollMs: 50,
      headEveryMs: 10_000,
      sayEveryMs: 5000,
    });
    const waited = Date.now() - t0;
    expect(await storage.head(walKey(sysid, parseWalName(name)))).not.toBeNull();
    const { rows } = await client.query<{ last: string }>(
      'select last_archived_wal as last from pg_stat_archiver',
    );
    expect(archivedPast(rows[0]!.last, name)).toBe(true);
    // One HEAD at the start, one when the statistics showed it (polling at 10–50 ms would
    // otherwise have sent dozens); a slow machine may add one per 10 s.
    expect(heads).toBeLessThanOrEqual(3 + Math.floor(waited / 10_000));
    expect(said[0]).toContain(`waiting for WAL ${name}`);
  });

  it('gives up at the deadline naming the failing archive_command', async () => {
    await client.query(`alter system set archive_command = 'false'`);
    await client.query('select pg_reload_conf()');
    try {
      // The reload reaches the archiver before the next file it archives.
      await new Promise((r) => setTimeout(r, 500));
      // A background archive-ahead an earlier call started stores any .ready file it sees
      // until it exits, idle: only then does a failing archive_command leave the file out.
      const lock = path.join(c.pgdata, 'pg_wal/skytools_walmgr/.archive-ahead.lock');
      await waitFor(async () => !existsSync(lock), 30_000, 'archive-ahead to exit');
      await client.query('insert into t select generate_series(1, 10)');
      const name = await switchWal();
      const t0 = Date.now();
      const err = await waitForArchived(
        storage,
        client,
        walKey(sysid, parseWalName(name)),
        4000,
        () => {},
      ).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(new RegExp(`WAL ${name} did not reach .* within 4 s`));
      expect((err as Error).message).toMatch(/archive_command FAILING on [0-9A-F]{24}/);
      expect(Date.now() - t0).toBeLessThan(30_000);
    } finally {
      await client.query('alter system reset archive_command');
      await client.query('select pg_reload_conf()');
    }
  });
});

describe('archivedPast', () => {
  it('compares segment names by timeline, log and segment; other names say nothing', () => {
    const seg = '000000010000000000000005';
    expect(archivedPast(seg, seg)).toBe(true);
    expect(archivedPast('000000010000000000000006', seg)).toBe(true);
    expect(archivedPast('00000001000000010000000A', '0000000100000000000000FF')).toBe(true);
    expect(archivedPast('000000010000000000000004', seg)).toBe(false);
    expect(archivedPast('000000020000000000000001', seg)).toBe(true);
    expect(archivedPast('000000010000000000000005.00000028.backup', seg)).toBe(true);
    expect(archivedPast('00000002.history', seg)).toBe(false);
    expect(archivedPast(null, seg)).toBe(false);
  });
});
