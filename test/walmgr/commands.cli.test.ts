// What walmgr writes for PostgreSQL to run later: archive_command / restore_command carry every
// setting the user gave (and no S3 setting into a local repository), and a recovery target
// PostgreSQL would refuse is refused before anything is restored.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, walmgr } from './harness.ts';

const clean = {
  WALMGR_CONFIG: '',
  WALMGR_REPO: '',
  AWS_ENDPOINT_URL: '',
  AWS_REGION: '',
  WALMGR_S3_CONDITIONAL_PUT: '',
  WALMGR_COMPRESSION: '',
};

function line(out: string, key: string): string {
  return out.split('\n').find((l) => l.startsWith(`${key} = `)) ?? '';
}

describe('walmgr archive-command and restore', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('commands');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes every given setting on to the archive and restore commands', async () => {
    const r = await walmgr(
      [
        'archive-command',
        '--repo',
        's3://b/p',
        '--endpoint',
        'http://127.0.0.1:9',
        '--s3-conditional-put',
        'off',
        '--compression',
        'gzip',
        '--timeout',
        '5',
        '--ahead',
        '4',
        '--prefetch',
        '16',
      ],
      { env: clean },
    );
    expect(r.code, r.stderr).toBe(0);
    const archive = line(r.stdout, 'archive_command');
    const restore = line(r.stdout, 'restore_command');
    for (const f of [
      '--repo s3://b/p',
      '--endpoint http://127.0.0.1:9',
      '--s3-conditional-put off',
      '--timeout 5',
    ]) {
      expect(archive).toContain(f);
      expect(restore).toContain(f);
    }
    expect(archive).toContain('--compression gzip');
    expect(archive).toContain('--ahead 4');
    expect(restore).toContain('--prefetch 16');
    expect(restore).not.toContain('--ahead');
  });

  it('takes settings from the .ini file too, and keeps S3 settings out of a local repository', async () => {
    const { writeFileSync } = await import('node:fs');
    const ini = path.join(dir, 'w.ini');
    writeFileSync(ini, `[walmgr]\nwalmgr_data = ${dir}/repo\ncompression = brotli\n`);
    const r = await walmgr(['archive-command', '--config', ini], {
      env: { ...clean, AWS_REGION: 'eu-north-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:9' },
    });
    expect(r.code, r.stderr).toBe(0);
    const archive = line(r.stdout, 'archive_command');
    expect(archive).toContain(`--repo ${dir}/repo`);
    expect(archive).toContain('--compression brotli');
    expect(r.stdout).not.toMatch(/--region|--endpoint/);
  });

  it.each([
    [['--target-time', 'banana'], /--target-time "banana" is not a time/],
    [['--target-time', '2026-02-30 10:00:00+00'], /is not a time/],
    [['--target-lsn', 'zz/zz'], /--target-lsn "zz\/zz" is not an LSN/],
    [['--target-xid', '12a'], /--target-xid "12a" is not a transaction id/],
    [['--target-time', '2026-01-02 03:04:05+00', '--target-xid', '5'], /at most one of/],
  ])('refuses restore %j before restoring anything', async (args, message) => {
    const pgdata = path.join(dir, `pgdata-${Math.random().toString(36).slice(2)}`);
    const repo = path.join(dir, 'no-such-repo');
    const r = await walmgr(['restore', '--repo', repo, '--pgdata', pgdata, ...args], { env: clean });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    // refused before the repository was opened or the directory made
    expect(existsSync(pgdata)).toBe(false);
    expect(existsSync(repo)).toBe(false);
  });

  it('accepts the targets PostgreSQL accepts', async () => {
    const { checkRecoveryTarget } = await import('../../layers/walmgr/restore.ts');
    for (const t of [
      { time: '2026-12-01 08:51:38+00' },
      { time: '2026-12-01T08:51:38.123456Z' },
      { time: '2026-12-01 08:51' },
      { time: '2026-12-01' },
      { lsn: '0/3000060' },
      { lsn: 'AB/CDEF0123' },
      { xid: '1234' },
      {},
    ])
      expect(() => checkRecoveryTarget(t)).not.toThrow();
  });
});
