// `skytools londiste <ini> <command>` as a child process, as scripts run it: the [londiste] ini,
// -d accepted, output on stdout, one error line on stderr naming the command, exit codes.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { useTestDatabase } from '../support/db.ts';

const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');
const db = useTestDatabase();
const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let iniFile = '';
let typoIni = '';

beforeAll(async () => {
  const c = await db.connect();
  await install(c, { manifest: 'londiste/install.sql' });
  await db.query('create table public.orders (id int primary key, total numeric)');
  iniFile = path.join(dir, 'root.ini');
  writeFileSync(
    iniFile,
    [
      '[londiste]',
      'job_name = root_worker',
      'queue_name = rq',
      `db = ${db.url}`,
      'node_name = root',
      '',
    ].join('\n'),
  );
  typoIni = path.join(dir, 'typo.ini');
  writeFileSync(
    typoIni,
    `[londiste]\nqueue_name = rq\ndb = ${db.url}\nnode_name = root\nparalel_copies = 2\n`,
  );
});

function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'londiste', ...args],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SKYTOOLS_DEBUG: '' } },
      (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

describe('skytools londiste', () => {
  it('creates the root and adds a table; -d is accepted; unknown ini keys warn with a suggestion', async () => {
    const created = await run(typoIni, 'create-root', '-d');
    expect(created).toMatchObject({ code: 0, out: 'node root created as root for queue rq\n' });
    expect(created.err).toContain('unknown key "paralel_copies" ignored (did you mean "parallel_copies"?)');
    expect(await run(iniFile, 'add-table', 'orders', '-q')).toMatchObject({
      code: 0,
      out: 'Table added: public.orders\n',
      err: '',
    });
    expect((await run(iniFile, 'tables', '--names-only', '-q')).out).toBe('public.orders\n');
  });

  it('fails with exit 1 and one line naming the command, for bad names and unknown commands', async () => {
    expect(await run(iniFile, 'add-table', 'nosuch', '-q')).toEqual({
      code: 1,
      out: '',
      err: 'skytools londiste add-table: table not available: public.nosuch (no such table in this database, or not a plain table)\n',
    });
    expect(await run(iniFile, 'frobnicate', '-q')).toEqual({
      code: 1,
      out: '',
      err: 'skytools londiste frobnicate: unknown command "frobnicate"; see skytools londiste --help\n',
    });
    expect(await run(iniFile, 'copy', '-q')).toEqual({
      code: 1,
      out: '',
      err: 'skytools londiste copy: copy needs exactly one table name: copy TBL\n',
    });
  });

  it('names the missing section or key of a bad ini', async () => {
    const bad = path.join(dir, 'bad.ini');
    writeFileSync(bad, '[londiste]\ndb = dbname=x\n');
    const r = await run(bad, 'tables');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`skytools londiste tables: ${bad} [londiste]: queue_name is not set\n`);
  });

  it('lists the Londiste commands after the cascade ones in --help', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Node initialization:\n {2}create-root/);
    expect(r.out).toMatch(/Replication administration:\n {2}add-table TBL/);
    expect(r.out).toContain('--create-full');
  });
});
