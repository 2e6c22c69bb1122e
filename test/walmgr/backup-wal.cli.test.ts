// A backup on a primary stores the WAL segments it needs from pg_wal itself (backup-wal.ts)
// instead of waiting for the archiver: with an archive_command that never succeeds, the backup
// still completes in well under its --archive-timeout, its stop segment is in the repository
// with the content of pg_wal, and the backup restores (to the end of that WAL) with every row.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import { sha256 } from '../../layers/walmgr/codec.ts';
import { META, walKey } from '../../layers/walmgr/layout.ts';
import { type Manifest, readManifest } from '../../layers/walmgr/manifest.ts';
import { parseWalName } from '../../layers/walmgr/wal.ts';
import { type Cluster, chownR, createCluster, tempDir, waitFor, walmgr } from './harness.ts';

describe('walmgr backup stores its own WAL on a primary', () => {
  let primary: Cluster;
  let repo: string;
  let m: Manifest;
  let stderr: string;
  let seconds: number;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    repo = await tempDir('repo');
    cleanup.push(async () => rmSync(repo, { recursive: true, force: true }));
    expect((await walmgr(['init', '--repo', repo])).code).toBe(0);
    // The archiver fails every time: nothing reaches the repository but what the backup stores.
    primary = await createCluster({ archiveCommand: '/bin/false' });
    cleanup.push(() => primary.destroy());
    await primary.start();
    await primary.query('create table t (id int primary key, v text)');
    await primary.query(`insert into t select g, md5(g::text) from generate_series(1, 5000) g`);
    const t0 = performance.now();
    const b = await walmgr(['backup', '--repo', repo, '--db', primary.url, '--archive-timeout', '60']);
    seconds = (performance.now() - t0) / 1000;
    expect(b.code, b.stderr).toBe(0);
    stderr = b.stderr;
    const sysid = (
      await primary.query<{ s: string }>('select system_identifier::text as s from pg_control_system()')
    )[0]!.s;
    const storage = await openStorage(repo);
    try {
      m = await readManifest(storage, sysid, b.stdout.trim());
    } finally {
      storage.close();
    }
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  it('stores the stop segment from pg_wal, as archive would, without the archiver', async () => {
    expect(stderr).toMatch(/stored \d+ WAL segment\(s\) of the backup from pg_wal/);
    expect(seconds).toBeLessThan(60);
    const storage = await openStorage(repo);
    try {
      const info = await storage.head(walKey(m.systemId, parseWalName(m.stopWal)));
      expect(info).not.toBeNull();
      const local = readFileSync(path.join(primary.pgdata, 'pg_wal', m.stopWal));
      expect(info!.metadata[META.sha256]).toBe(sha256(local));
    } finally {
      storage.close();
    }
    // The archiver still has it to do (it fails here), so PostgreSQL's bookkeeping is untouched.
    const [a] = await primary.query<{ last: string | null }>(
      'select last_archived_wal as last from pg_stat_archiver',
    );
    expect(a!.last).toBeNull();
  });

  it('restores from that WAL alone', async () => {
    const dir = await tempDir('restore-backup-wal');
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const pgdata = path.join(dir, 'data');
    const r = await walmgr(['restore', '--repo', repo, '--pgdata', pgdata, '--backup', m.id]);
    expect(r.code, r.stderr).toBe(0);
    await chownR(dir);
    const c = await createCluster({ pgdata, conf: { archive_mode: 'off' } });
    cleanup.push(() => c.destroy());
    await c.start();
    await waitFor(
      async () => (await c.query<{ r: boolean }>('select pg_is_in_recovery() as r'))[0]?.r === false,
      90_000,
      'end of recovery',
      c,
    );
    expect((await c.query<{ n: number }>('select count(*)::int as n from t'))[0]!.n).toBe(5000);
    await c.stop();
  });
});
