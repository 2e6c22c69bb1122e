// The original `londiste` command (Debian's python3-londiste 3.x) operating two nodes that run
// our SQL only (sql/install.sql: pgq, pgq_node, londiste): create-root / create-leaf, add-table
// on both, its worker and copy process through the whole state machine to 'ok', replay of
// later changes, compare, execute, remove-table. The test ticks the root itself (pgq.ticker),
// so no pgqd is needed. Skipped, saying why, without the Debian server or python3-londiste.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { adminQuery, libpqBase, probeCompat, urlFor } from '../support/compat.ts';

const LONDISTE = '/usr/bin/londiste';
const env = await probeCompat();
const hasLondiste =
  env.ok && existsSync(LONDISTE) && spawnSync(env.python, ['-c', 'import londiste']).status === 0;
const ready = env.ok && env.hasPythonPgq && hasLondiste;
if (!ready)
  console.warn(`python3-londiste on our SQL skipped: ${env.reason || 'python3-londiste not installed'}`);

async function waitUntil(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.runIf(ready)('python3-londiste on nodes running our SQL', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-py-'));
  const suffix = Math.random().toString(36).slice(2, 8);
  const names = { root: `lpy_r_${suffix}`, leaf: `lpy_l_${suffix}` };
  const dbs: Record<'root' | 'leaf', pg.Client> = {} as never;
  const loc = (node: 'root' | 'leaf') => `${libpqBase()} dbname=${names[node]}`;
  let worker: ChildProcess | undefined;
  let ticker: NodeJS.Timeout | undefined;

  const ini = (node: 'root' | 'leaf') => {
    const file = path.join(dir, `${node}.ini`);
    writeFileSync(
      file,
      [
        '[londiste]',
        `job_name = lpy_${node}`,
        `db = ${loc(node)}`,
        'queue_name = lq',
        'loop_delay = 0.2',
        `logfile = ${dir}/${node}.log`,
        `pidfile = ${dir}/${node}.pid`,
        '',
      ].join('\n'),
    );
    return file;
  };
  const londiste = (node: 'root' | 'leaf', ...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(
        env.python,
        [LONDISTE, ini(node), ...args],
        { encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) => {
          if (err)
            reject(new Error(`londiste ${args.join(' ')} failed: ${err.message}\n${stderr}\n${stdout}`));
          else resolve(`${stdout}${stderr}`);
        },
      );
    });
  const rows = async (node: 'root' | 'leaf', sql: string) => (await dbs[node].query(sql)).rows;
  const digest = (node: 'root' | 'leaf') =>
    rows(
      node,
      "select count(*)::int as n, md5(string_agg(id || ':' || v, ',' order by id)) as h from public.t",
    );

  beforeAll(async () => {
    for (const node of ['root', 'leaf'] as const) {
      await adminQuery(`create database ${names[node]}`);
      dbs[node] = new pg.Client({ connectionString: urlFor(names[node]) });
      await dbs[node].connect();
      await install(dbs[node]);
      await dbs[node].query('create table public.t (id int primary key, v text)');
    }
    await dbs.root.query("insert into public.t select g, 'v' || g from generate_series(1, 500) g");
  });

  afterAll(async () => {
    if (ticker) clearInterval(ticker);
    worker?.kill('SIGTERM');
    for (const node of ['root', 'leaf'] as const) {
      await dbs[node]?.end().catch(() => {});
      await adminQuery(`drop database if exists ${names[node]} with (force)`).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets up the nodes and the table with our londiste functions', async () => {
    expect(await londiste('root', 'create-root', 'rootnode', loc('root'))).toMatch(
      /initialized for queue "lq"/,
    );
    expect(
      await londiste('leaf', 'create-leaf', 'leafnode', loc('leaf'), `--provider=${loc('root')}`),
    ).toMatch(/initialized for queue "lq" with type "leaf"/);
    expect(await londiste('root', 'add-table', 't')).toMatch(/Table added: public\.t/);
    expect(await londiste('leaf', 'add-table', 't')).toMatch(/Table added: public\.t/);
    expect(
      await rows('leaf', "select local, merge_state from londiste.table_info where queue_name = 'lq'"),
    ).toEqual([{ local: true, merge_state: null }]);
    // the root's trigger is ours: the original's, with the table's own logutriga
    // (pgq._tgrow_<its oid>) where the original puts pgq.logutriga
    expect(
      await rows(
        'root',
        `select replace(pg_get_triggerdef(oid), 'pgq._tgrow_' || tgrelid::int4 || '(', 'pgq._tgrow_<self>(') as d
           from pg_trigger where tgname = '_londiste_lq'`,
      ),
    ).toEqual([
      {
        d: "CREATE TRIGGER _londiste_lq AFTER INSERT OR DELETE OR UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION pgq._tgrow_<self>('lq')",
      },
    ]);
  });

  it('its worker copies the table through the state machine to ok and replays what follows', async () => {
    ticker = setInterval(() => {
      dbs.root.query('select pgq.ticker()').catch(() => {});
    }, 200);
    worker = spawn(env.python, [LONDISTE, ini('leaf'), 'worker'], { stdio: 'ignore' });
    await dbs.root.query("update public.t set v = 'during copy' where id <= 10");
    await waitUntil('the table is ok on the leaf', async () => {
      const r = await rows('leaf', "select merge_state from londiste.table_info where queue_name = 'lq'");
      return r[0]?.merge_state === 'ok';
    });
    await dbs.root.query(`
      insert into public.t select g, 'w' || g from generate_series(501, 600) g;
      update public.t set v = 'upd' where id between 100 and 120;
      delete from public.t where id between 200 and 210`);
    const want = await digest('root');
    expect(want[0].n).toBe(589);
    await waitUntil(
      'the leaf has every change',
      async () => JSON.stringify(await digest('leaf')) === JSON.stringify(want),
    );
    const out = await londiste('leaf', 'compare');
    const sums = [...out.matchAll(/(srcdb|dstdb): (\d+) rows, checksum=(-?\d+)/g)].map((m) => [
      m[1],
      m[2],
      m[3],
    ]);
    expect(sums.map((x) => x[0])).toEqual(['srcdb', 'dstdb']);
    expect(sums[0]?.slice(1)).toEqual(sums[1]?.slice(1));
    expect(sums[0]?.[1]).toBe('589');
  });

  it('execute runs once on the root and once on the leaf; remove-table drops the triggers', async () => {
    const ddl = path.join(dir, 'add_col.sql');
    writeFileSync(ddl, 'alter table public.t add column extra int;\n');
    expect(await londiste('root', 'execute', ddl)).toMatch(/Execute finished: add_col\.sql/);
    await dbs.root.query('insert into public.t (id, v, extra) values (1000, $1, 7)', ['after execute']);
    await waitUntil('the leaf got the new column and the row', async () => {
      const r = await rows(
        'leaf',
        "select to_regclass('public.t') is not null and exists (select 1 from information_schema.columns where table_name = 't' and column_name = 'extra') as c",
      );
      if (!r[0]?.c) return false;
      return (await rows('leaf', 'select extra from public.t where id = 1000')).length === 1;
    });
    expect(await rows('leaf', 'select execute_file from londiste.applied_execute')).toEqual([
      { execute_file: 'add_col.sql' },
    ]);
    expect(await londiste('leaf', 'remove-table', 't')).toMatch(/Table removed: public\.t/);
    expect(await rows('leaf', "select tgname from pg_trigger where tgname like '_londiste%'")).toEqual([]);
  });
});
