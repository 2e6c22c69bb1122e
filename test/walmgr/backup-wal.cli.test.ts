// A backup on a primary stores its stop segment itself once the server has it complete
// (backup-wal.ts), instead of waiting for a slow archiver to start an archive_command for it;
// the archiver's own call then finds it stored. With an archiver whose last word is a failure it
// still waits, and gives up at --archive-timeout saying why: WAL after the backup is not kept.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  archiveCommand,
  type Cluster,
  createCluster,
  startRestored,
  tempDir,
  waitFor,
  walmgr,
} from './harness.ts';

describe('walmgr backup stores its stop segment', () => {
  let primary: Cluster;
  let repo: string;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    repo = await tempDir('repo');
    cleanup.push(async () => rmSync(repo, { recursive: true, force: true }));
    expect((await walmgr(['init', '--repo', repo])).code).toBe(0);
    // An archiver that takes its time over every file.
    primary = await createCluster({ archiveCommand: `sleep 2; ${archiveCommand(`--repo ${repo}`)}` });
    cleanup.push(() => primary.destroy());
    await primary.start();
    await primary.query('create table t (id int primary key, v text)');
    await primary.query(`insert into t select g, 'v' || g from generate_series(1, 1000) g`);
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  it('without waiting for the archiver, which then finds it stored', async () => {
    const b = await walmgr(['backup', '--repo', repo, '--db', primary.url]);
    expect(b.code, b.stderr).toBe(0);
    const stopWal = /stored WAL ([0-9A-F]{24}) itself/.exec(b.stderr)?.[1];
    expect(stopWal, b.stderr).toBeDefined();
    const v = await walmgr(['verify', '--repo', repo, '--backup', 'latest']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // The archiver's call for the same segment succeeds: same content already there.
    await waitFor(
      async () => {
        const [s] = await primary.query<{ last: string | null }>(
          'select last_archived_wal as last from pg_stat_archiver',
        );
        return Boolean(s?.last && s.last >= stopWal!);
      },
      60_000,
      `the archiver past ${stopWal}`,
      primary,
    );
    const [a] = await primary.query<{ failed: string }>(
      'select failed_count::text as failed from pg_stat_archiver',
    );
    expect(a!.failed).toBe('0');

    const dir = await tempDir('restore-own-wal');
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const r = await walmgr([
      'restore',
      '--repo',
      repo,
      '--pgdata',
      path.join(dir, 'data'),
      '--backup',
      'latest',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const restored = await startRestored(path.join(dir, 'data'));
    try {
      const [row] = await restored.query<{ n: number }>('select count(*)::int as n from t');
      expect(row!.n).toBe(1000);
    } finally {
      await restored.destroy();
    }
  });

  it('waits for a failing archiver and gives up at --archive-timeout, saying why', async () => {
    await primary.query(`alter system set archive_command = 'exit 1'`);
    await primary.query('select pg_reload_conf()');
    try {
      // Something for the archiver to fail on before the backup ends (a failure it has not
      // seen yet the backup cannot know of: then it stores its own segment and succeeds).
      const failures = async () =>
        (await primary.query<{ n: string }>('select failed_count::text as n from pg_stat_archiver'))[0]!.n;
      const before = await failures();
      await primary.query(`insert into t values (1001, 'x')`);
      await primary.query('select pg_switch_wal()');
      await waitFor(async () => (await failures()) !== before, 60_000, 'an archiver failure', primary);
      const b = await walmgr(['backup', '--repo', repo, '--db', primary.url, '--archive-timeout', '4']);
      expect(b.code).not.toBe(0);
      expect(b.stderr).not.toMatch(/stored WAL \S+ itself/);
      expect(b.stderr).toMatch(/did not reach .* within 4 s/);
      expect(b.stderr).toMatch(/archive_command FAILING on [0-9A-F]{24}/);
    } finally {
      await primary.query('alter system reset archive_command');
      await primary.query('select pg_reload_conf()');
    }
  });
});
