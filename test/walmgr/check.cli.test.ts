// `walmgr check` against a real cluster archiving into a local repository: every check passes on
// a healthy setup (text and --json, exit 0), and each failure is named with exit 1 — a
// repository that is gone, a broken archive_command, a WAL gap after the newest backup, a
// retention policy nobody applies. Also: backup and verify log progress lines when stderr is not
// a terminal.
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../layers/storage/index.ts';
import { listBackups } from '../../layers/walmgr/catalog.ts';
import type { CheckResult } from '../../layers/walmgr/health.ts';
import { segmentNumber } from '../../layers/walmgr/wal.ts';
import {
  archiveCommand,
  type Cluster,
  createCluster,
  switchAndWaitArchived,
  tempDir,
  walmgr,
} from './harness.ts';

function verdicts(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(repository|archive|backup|wal|retention)\s+(\S+)/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe('walmgr check', () => {
  let primary: Cluster;
  let repo: string;
  let backupStderr: string;
  const cleanup: (() => Promise<void>)[] = [];
  const check = (...extra: string[]) =>
    walmgr(['check', '--repo', repo, '--db', primary.url, '--archive-timeout', '20', ...extra]);

  beforeAll(async () => {
    repo = await tempDir('repo');
    cleanup.push(async () => rmSync(repo, { recursive: true, force: true }));
    expect((await walmgr(['init', '--repo', repo])).code).toBe(0);
    primary = await createCluster({ archiveCommand: archiveCommand(`--repo ${repo}`) });
    cleanup.push(() => primary.destroy());
    await primary.start();
    await primary.query('create table t (id int primary key)');
    await primary.query('insert into t select generate_series(1, 20000)');
    const b = await walmgr([
      'backup',
      '--repo',
      repo,
      '--db',
      primary.url,
      '--piece-size',
      '64k',
      '--progress-interval',
      '0.001',
    ]);
    expect(b.code, b.stderr).toBe(0);
    backupStderr = b.stderr;
    for (let i = 0; i < 3; i++) {
      await primary.query(`insert into t select generate_series(${20001 + i * 100}, ${20100 + i * 100})`);
      await switchAndWaitArchived(primary);
    }
  });

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  });

  it('backup and verify log progress (files, bytes, rate) when stderr is not a terminal', async () => {
    expect(backupStderr).toMatch(
      /INFO {2}backup \S+ progress backup=\S+ files=\d+ filesTotal=\d+ bytes=\d+ bytesTotal=\d+ mibPerSecond=[\d.]+/,
    );
    expect(backupStderr).toMatch(/backup \S+ finished .*files=(\d+) filesTotal=\1 /);
    expect(backupStderr).not.toContain('\r');
    const v = await walmgr(['verify', '--repo', repo, '--progress-interval', '0.001']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toMatch(/verify \S+ finished .*files=(\d+) filesTotal=\1 bytes=(\d+) bytesTotal=\2/);
  });

  it('passes every check on a healthy setup, as text and as JSON', async () => {
    const r = await check('--keep-last', '1');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(verdicts(r.stdout)).toEqual({
      repository: 'ok',
      archive: 'ok',
      backup: 'ok',
      wal: 'ok',
      retention: 'ok',
    });
    expect(r.stdout).toMatch(/archive\s+ok\s+fresh segment [0-9A-F]{24} archived and verified/);
    expect(r.stdout).toMatch(/check: ok \(5 checks passed\)/);
    const j = await check('--json');
    expect(j.code, j.stderr).toBe(0);
    const parsed = JSON.parse(j.stdout) as { ok: boolean; checks: CheckResult[] };
    expect(parsed.ok).toBe(true);
    expect(parsed.checks.map((c) => [c.name, c.status])).toEqual([
      ['repository', 'ok'],
      ['archive', 'ok'],
      ['backup', 'ok'],
      ['wal', 'ok'],
      ['retention', 'ok'],
    ]);
    // The probe leaves nothing in the local repository, not even an empty directory.
    expect(readdirSync(repo).filter((n) => n.startsWith('skytools-walmgr-check'))).toEqual([]);
  });

  it('fails on a repository that is gone, skipping the rest', async () => {
    const gone = path.join(await tempDir('gone'), 'repo');
    const r = await walmgr(['check', '--repo', gone, '--db', primary.url, '--json']);
    expect(r.code).toBe(1);
    const parsed = JSON.parse(r.stdout) as { ok: boolean; checks: CheckResult[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.checks[0]).toMatchObject({ name: 'repository', status: 'failed' });
    expect(parsed.checks[0]!.detail).toMatch(/walmgr init/);
    expect(parsed.checks.slice(1).every((c) => c.status === 'skipped')).toBe(true);
  });

  it('fails when archive_command does not store the fresh segment, naming the archiver failure', async () => {
    await primary.query(`alter system set archive_command = 'false'`);
    await primary.query('select pg_reload_conf()');
    try {
      const r = await check('--archive-timeout', '4');
      expect(r.code).toBe(1);
      expect(verdicts(r.stdout)).toMatchObject({ repository: 'ok', archive: 'FAILED', backup: 'ok' });
      expect(r.stdout).toMatch(
        /archive\s+FAILED\s+WAL [0-9A-F]{24} did not reach .* archive_command FAILING/,
      );
      expect(r.stdout).toMatch(/check: FAILED \(\d of 5 checks did not pass\)/);
    } finally {
      await primary.query('alter system reset archive_command');
      await primary.query('select pg_reload_conf()');
    }
    await switchAndWaitArchived(primary);
  });

  it('fails on a WAL gap after the newest backup, naming the missing segment', async () => {
    const storage = await openStorage(repo);
    try {
      const [m] = await listBackups(storage);
      const wal = (await storage.list(`${m!.systemId}/wal/00000001/`))
        .map((o) => o.key)
        .filter((k) => /\/[0-9A-F]{24}$/.test(k))
        .filter(
          (k) =>
            segmentNumber(path.basename(k), m!.walSegmentSize) > segmentNumber(m!.stopWal, m!.walSegmentSize),
        );
      expect(wal.length).toBeGreaterThanOrEqual(2);
      const victim = wal[0]!;
      const saved = (await storage.get(victim))!;
      await storage.delete(victim);
      try {
        const r = await check();
        expect(r.code).toBe(1);
        expect(verdicts(r.stdout)).toMatchObject({ archive: 'ok', backup: 'ok', wal: 'FAILED' });
        expect(r.stdout).toContain(`timeline 1: 1 segment(s) missing`);
        expect(r.stdout).toContain(path.basename(victim));
      } finally {
        await storage.put(victim, saved.body, { metadata: saved.info.metadata });
      }
      expect((await check()).code).toBe(0);
    } finally {
      storage.close();
    }
  });

  it('fails when the retention policy is overdue (expire is not running)', async () => {
    const b = await walmgr(['backup', '--repo', repo, '--db', primary.url]);
    expect(b.code, b.stderr).toBe(0);
    const r = await check('--keep-last', '1');
    expect(r.code).toBe(1);
    expect(verdicts(r.stdout)).toMatchObject({ backup: 'ok', wal: 'ok', retention: 'FAILED' });
    expect(r.stdout).toMatch(/would expire 1 backup\(s\) and \d+ WAL file\(s\) now/);
    const e = await walmgr(['expire', '--repo', repo, '--keep-last', '1']);
    expect(e.code, e.stderr).toBe(0);
    expect((await check('--keep-last', '1')).code).toBe(0);
  });
});
