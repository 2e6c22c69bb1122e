// A missing, unmounted, mistyped or unreadable repository is never "segment not archived":
// restore-wal exits 126 (recovery stops) instead of 1 (PostgreSQL ends recovery and promotes),
// archive refuses instead of creating a new repository, listbackups & co. refuse instead of
// printing nothing — each saying how to initialise. `walmgr init` writes the marker, idempotently,
// also on a repository that already holds WAL.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import { MARKER_KEY } from '../../layers/walmgr/repository.ts';
import { chownR, createCluster, type S3Endpoint, startS3, tempDir, walmgr } from './harness.ts';

/** A segment initdb left (which one depends on how much WAL initdb wrote). */
let SEG = '';
const MISSING = '0000000100000000000000F9';
const IS_ROOT = process.getuid?.() === 0;

describe('walmgr repository marker', () => {
  let work: string;
  let pgdata: string;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    // A data directory with pg_control and one real segment: initdb's, never started.
    const c = await createCluster();
    cleanup.push(() => c.destroy());
    work = await tempDir('repo-marker');
    cleanup.push(async () => rmSync(work, { recursive: true, force: true }));
    pgdata = path.join(work, 'data');
    mkdirSync(path.join(pgdata, 'global'), { recursive: true });
    mkdirSync(path.join(pgdata, 'pg_wal'), { recursive: true });
    copyFileSync(path.join(c.pgdata, 'global/pg_control'), path.join(pgdata, 'global/pg_control'));
    SEG = readdirSync(path.join(c.pgdata, 'pg_wal'))
      .filter((n) => /^[0-9A-F]{24}$/.test(n))
      .sort()[0]!;
    copyFileSync(path.join(c.pgdata, 'pg_wal', SEG), path.join(pgdata, 'pg_wal', SEG));
    await chownR(work);
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  const restoreWal = (repo: string[], name = MISSING, asPostgres = false) =>
    walmgr(['restore-wal', name, 'pg_wal/RECOVERYXLOG', '--pgdata', pgdata, '--prefetch', '0', ...repo], {
      asPostgres,
    });
  const archive = (repo: string[]) =>
    walmgr(['archive', `pg_wal/${SEG}`, SEG, '--pgdata', pgdata, '--ahead', '0', ...repo]);

  const NOT_INIT = /is not an initialised walmgr repository .*skytools walmgr init/;

  it('restore-wal in a missing directory stops recovery (126), not "not archived" (1)', async () => {
    const r = await restoreWal(['--repo', path.join(work, 'nonexistent-repo')]);
    expect(r.code, r.stderr).toBe(126);
    expect(r.stderr).toMatch(NOT_INIT);
    expect(r.stderr).not.toMatch(/is not in local directory/);
  });

  it('restore-wal in an empty existing directory (an unmounted volume) stops recovery too', async () => {
    const mount = path.join(work, 'mnt');
    mkdirSync(mount);
    const r = await restoreWal(['--repo', mount]);
    expect(r.code, r.stderr).toBe(126);
    expect(r.stderr).toMatch(NOT_INIT);
  });

  it('archive refuses a missing repository instead of creating one', async () => {
    const repo = path.join(work, 'typo-repo');
    const r = await archive(['--repo', repo]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(NOT_INIT);
    expect(existsSync(repo)).toBe(false);
  });

  it.each([
    ['listbackups', []],
    ['verify', []],
    ['expire', ['--keep-last', '1']],
  ])('%s refuses a missing repository, saying how to initialise it', async (cmd, extra) => {
    const r = await walmgr([cmd, '--repo', path.join(work, 'nonexistent-repo'), ...extra]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(NOT_INIT);
    expect(r.stdout).toBe('');
  });

  it('init creates the directory and is idempotent; then a missing segment is "not archived" (1)', async () => {
    const repo = path.join(work, 'new-repo');
    const first = await walmgr(['init', '--repo', repo]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('initialised');
    expect(readdirSync(repo)).toEqual([MARKER_KEY]);
    const again = await walmgr(['init', '--repo', repo]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already initialised');

    const missing = await restoreWal(['--repo', repo]);
    expect(missing.code, missing.stderr).toBe(1);
    expect(missing.stderr).toContain(`${MISSING} is not in local directory`);
    const a = await archive(['--repo', repo]);
    expect(a.code, a.stderr).toBe(0);
    const got = await restoreWal(['--repo', repo], SEG);
    expect(got.code, got.stderr).toBe(0);
    const l = await walmgr(['listbackups', '--repo', repo]);
    expect(l.code, l.stderr).toBe(0);
  });

  it('init on a repository made before the marker existed only adds the marker', async () => {
    const repo = path.join(work, 'old-repo');
    expect((await walmgr(['init', '--repo', repo])).code).toBe(0);
    expect((await archive(['--repo', repo])).code).toBe(0);
    // What a repository written by an earlier version looks like: the data, no marker.
    rmSync(path.join(repo, MARKER_KEY));
    const before = await restoreWal(['--repo', repo], SEG);
    expect(before.code, 'a found segment needs no marker').toBe(0);
    expect((await restoreWal(['--repo', repo])).code).toBe(126);
    const init = await walmgr(['init', '--repo', repo]);
    expect(init.code, init.stderr).toBe(0);
    expect((await restoreWal(['--repo', repo])).code).toBe(1);
    expect((await restoreWal(['--repo', repo], SEG)).code).toBe(0);
  });

  it('restore-wal in an unreadable repository stops recovery (126)', async () => {
    const repo = path.join(work, 'locked-repo');
    expect((await walmgr(['init', '--repo', repo])).code).toBe(0);
    chmodSync(repo, 0o000);
    try {
      // Root reads anything: the denial needs the postgres OS user when we are root.
      const r = await restoreWal(['--repo', repo], MISSING, IS_ROOT);
      expect(r.code, r.stderr).toBe(126);
      expect(r.stderr).toMatch(/permission denied|EACCES/i);
    } finally {
      chmodSync(repo, 0o700);
    }
  });

  describe('on S3', () => {
    let s3: S3Endpoint;
    beforeAll(async () => {
      s3 = await startS3('walmgr-marker');
    });
    afterAll(async () => {
      await s3.stop();
    });
    const s3Repo = (prefix: string, bucket = s3.bucket) => [
      '--repo',
      `s3://${bucket}/${prefix}`,
      '--endpoint',
      s3.endpoint,
      '--s3-conditional-put',
      'off',
    ];

    it('a wrong prefix stops recovery (126); after init a missing segment is "not archived"', async () => {
      const wrong = await restoreWal(s3Repo('typo'));
      expect(wrong.code, wrong.stderr).toBe(126);
      expect(wrong.stderr).toMatch(NOT_INIT);
      const init = await walmgr(['init', ...s3Repo('wal')]);
      expect(init.code, init.stderr).toBe(0);
      const storage = await openStorage(`s3://${s3.bucket}/wal`, { endpoint: s3.endpoint });
      try {
        expect((await storage.head(MARKER_KEY))?.metadata.format).toBe('1');
      } finally {
        storage.close();
      }
      const missing = await restoreWal(s3Repo('wal'));
      expect(missing.code, missing.stderr).toBe(1);
    });

    it('init needs the bucket to exist', async () => {
      const r = await walmgr(['init', ...s3Repo('wal', 'no-such-bucket'), '--timeout', '5']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/PUT skytools-walmgr\.json on s3:\/\/no-such-bucket/);
    });
  });
});
