// walmgr's settings through the shared mechanism: the .ini file read by the shared reader,
// precedence flag > environment > file, unknown keys warned about, bad values refused naming
// their source — with each command's exit code (restore-wal's errors stop recovery: 126).
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRepo, tempDir, walmgr } from './harness.ts';

describe('walmgr settings', () => {
  let dir: string;
  let repo: string;
  const ini = (name: string, body: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, `[walmgr]\nwalmgr_data = ${repo}\n${body}`);
    return f;
  };
  // Unset what the outer environment might set, so each case names its own sources.
  const clean = { WALMGR_CONFIG: '', WALMGR_REPO: '', WALMGR_PARALLEL: '', WALMGR_COMPRESSION: '' };

  beforeAll(async () => {
    dir = await tempDir('settings');
    repo = path.join(dir, 'repo');
    await initRepo(repo);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the repository from the .ini file and warns about a misspelled key', async () => {
    const r = await walmgr(['listbackups', '--config', ini('typo.ini', 'compresion = gzip\n')], {
      env: clean,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^id\s+type\s+system id/);
    expect(r.stderr).toContain(
      'typo.ini [walmgr]: unknown key "compresion" ignored (did you mean "compression"?)',
    );
  });

  it('refuses a bad value in the file, naming file, section and key', async () => {
    const f = ini('lz4.ini', 'compression = lz4\n');
    const r = await walmgr(['listbackups'], { env: { ...clean, WALMGR_CONFIG: f } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${f} [walmgr]: compression = "lz4": expected one of: zstd, gzip, brotli, none`,
    );
    expect(r.stdout).toBe('');
  });

  it('lets a flag win over the environment and the environment over the file', async () => {
    const f = ini('lz4b.ini', 'compression = lz4\nparallel = 0\n');
    const ok = await walmgr(['listbackups', '--config', f, '--compression', 'gzip'], {
      env: { ...clean, WALMGR_PARALLEL: '2' },
    });
    expect(ok.code, ok.stderr).toBe(0);
    const env = await walmgr(['listbackups', '--config', f, '--parallel', '3'], {
      env: { ...clean, WALMGR_COMPRESSION: 'brotli' },
    });
    expect(env.code, env.stderr).toBe(0);
  });

  it('refuses a bad flag before touching the repository', async () => {
    const r = await walmgr(['listbackups', '--repo', repo, '--parallel', '0'], { env: clean });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('skytools walmgr listbackups: --parallel "0": must be ≥ 1');
  });

  it('gives restore-wal 126 for a bad setting (recovery stops rather than ending early)', async () => {
    const r = await walmgr(
      ['restore-wal', '000000010000000000000001', 'pg_wal/RECOVERYXLOG', '--repo', repo],
      {
        env: { ...clean, WALMGR_PARALLEL: 'many' },
        cwd: dir,
      },
    );
    expect(r.code).toBe(126);
    expect(r.stderr).toContain(
      'skytools walmgr restore-wal 000000010000000000000001: environment variable WALMGR_PARALLEL="many": expected an integer',
    );
  });

  it('says which setting is missing', async () => {
    const r = await walmgr(['listbackups'], { env: clean });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no repository: pass --repo');
  });
});
