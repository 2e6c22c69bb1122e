// `skytools londiste <leaf.ini> compare | repair` as a child process against a running root → leaf
// set (tickers and workers in this process): the text and --json output, exit code = tables that
// differ, repair's statements on stdout (exit 1: not applied) or in --output FILE, --apply (exit 0).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLondisteSet } from './replication.ts';

const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-compare-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

describe('skytools londiste compare / repair', () => {
  const f = useLondisteSet(['root', 'leaf']);
  let ini = '';

  beforeAll(async () => {
    const { s } = f;
    for (const db of ['root', 'leaf']) {
      await s.db(db).query('create table public.a (id int primary key, v text)');
      await s.db(db).query('create table public.b (id int primary key, v text)');
    }
    await s.db('root').query("insert into a select g, 'a' || g from generate_series(1, 100) g");
    await s.db('root').query("insert into b select g, 'b' || g from generate_series(1, 100) g");
    await s.build('root', [['leaf', 'leaf', 'root']]);
    s.startAll();
    for (const t of ['public.a', 'public.b']) {
      await s.addTable('root', t);
      await s.knows('leaf', t);
      await s.addTable('leaf', t);
      await s.waitOk('leaf', t);
    }
    ini = path.join(dir, 'leaf.ini');
    writeFileSync(ini, `[londiste]\njob_name = w_leaf\nqueue_name = ${s.queue}\ndb = ${s.db('leaf').url}\n`);
  }, 120_000);

  it('compares equal tables: exit 0, a line per table', async () => {
    const r = await run(ini, 'compare', '-q');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^public\.a: 100 rows, checksum=-?\d+ \(equal at tick \d+\)\npublic\.b: 100 rows/);
  });

  it('exits with the number of tables that differ, names them and how to repair', async () => {
    await f.s
      .db('leaf')
      .query(
        "begin; set local session_replication_role = replica; delete from a where id = 7; update b set v = 'x' where id = 8; commit",
      );
    const r = await run(ini, 'compare', '-q');
    expect(r.code).toBe(2);
    expect(r.out).toContain('public.a: results do not match');
    expect(r.out).toContain('  subscriber: 99 rows, checksum=');
    expect(r.out).toContain(`repair with: skytools londiste ${ini} repair public.a`);
    const one = await run(ini, 'compare', 'b', '--json', '-q');
    expect(one.code).toBe(1);
    const j = JSON.parse(one.out);
    expect(j.tables).toHaveLength(1);
    expect(j.tables[0]).toMatchObject({ table: 'public.b', equal: false, provider: { rows: '100' } });
    expect((await run(ini, 'compare', 'a', '--count-only', '-q')).code).toBe(1);
  });

  it('repair prints the statements (exit 1), writes them to a file, and --apply fixes the tables', async () => {
    const shown = await run(ini, 'repair', 'a', '-q');
    expect(shown.code).toBe(1);
    expect(shown.out).toContain("insert into public.a (id, v) values ('7', 'a7');");
    const file = path.join(dir, 'fix.sql');
    const toFile = await run(ini, 'repair', 'b', '--output', file, '-q');
    expect(toFile).toMatchObject({ code: 1 });
    expect(toFile.out).toMatch(/^public\.b: 0 insert\(s\), 1 update\(s\), 0 delete\(s\)/);
    expect(readFileSync(file, 'utf8')).toContain("update only public.b set v = 'b8' where id = '8';");
    const applied = await run(ini, 'repair', '--apply', '-q');
    expect(applied.code).toBe(0);
    expect(applied.out).toContain('public.a: 1 insert(s), 0 update(s), 0 delete(s) applied');
    expect((await run(ini, 'compare', '-q')).code).toBe(0);
    expect((await run(ini, 'repair', '-q')).code).toBe(0);
  });
});
