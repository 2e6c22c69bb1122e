// A merged table's lead killed -9 right after it emptied the table (`copy:bare`), the other
// part free to add its rows meanwhile: the relaunched lead finds its DDL stored, does not empty
// the table again, loads its own rows, and the leaf ends with the union of both roots.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { createDatabase } from '../support/db.ts';
import { LondisteSet, waitUntil } from './replication.ts';

type Db = Awaited<ReturnType<typeof createDatabase>>;
const fixture = path.resolve(import.meta.dirname, 'fixtures/londiste-job.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-mcrash-'));

describe('merged table: the lead killed after emptying the table', () => {
  let dbs: Record<'r1' | 'r2' | 'leaf', Db>;
  let a: LondisteSet;
  let b: LondisteSet;
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    const made = await Promise.all([createDatabase(), createDatabase(), createDatabase()]);
    for (const d of made) {
      const has = await d.query("select 1 from pg_namespace where nspname = 'londiste'");
      if (!has.rows.length) await install(await d.connect(), { manifest: 'londiste/install.sql' });
    }
    const [r1, r2, leaf] = made as [Db, Db, Db];
    dbs = { r1, r2, leaf };
    a = new LondisteSet({ r1, leaf }, 'part1');
    b = new LondisteSet({ r2, leaf }, 'part2');
  });
  afterAll(async () => {
    for (const p of procs) {
      try {
        if (p.pid) process.kill(-p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await a?.stopAll();
    await b?.stopAll();
    await Promise.all(Object.values(dbs ?? {}).map((d) => d.drop()));
  });

  const fingerprint = async (d: Db) =>
    (
      await d.query(
        `select count(*)::bigint as n, coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text as sum from public.t t`,
      )
    ).rows[0] as { n: bigint; sum: string };

  it('recovers by itself and ends with the union', async () => {
    await a.build('r1', [['leaf', 'leaf', 'r1']]);
    await b.build('r2', [['leaf', 'leaf', 'r2']]);
    for (const d of [dbs.r1, dbs.r2, dbs.leaf])
      await d.query('create table public.t (id bigint primary key, v text, n int)');
    await dbs.leaf.query('create index t_n on public.t (n)');
    await dbs.r1.query("insert into t select g, 'r1 ' || g, g % 10 from generate_series(1, 10000) g");
    await dbs.r2.query("insert into t select g, 'r2 ' || g, g % 10 from generate_series(10001, 20000) g");
    await dbs.r1.query('select * from londiste.local_add_table($1, $2)', ['part1', 'public.t']);
    await dbs.r2.query('select * from londiste.local_add_table($1, $2)', ['part2', 'public.t']);
    for (const [s, root] of [
      [a, 'r1'],
      [b, 'r2'],
    ] as const) {
      s.startTicker(root);
      s.startWorker(root);
    }
    const killFile = path.join(dir, 'bare');
    writeFileSync(killFile, '');
    for (const q of ['part1', 'part2']) {
      const p = spawn(process.execPath, [fixture, dbs.leaf.url, q, 'w_leaf'], {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, LONDISTE_KILL_AT: 'copy:bare', LONDISTE_KILL_FILE: killFile },
        detached: true,
      });
      procs.push(p);
    }
    for (const q of ['part1', 'part2']) {
      await waitUntil(
        `leaf knows the table in ${q}`,
        async () =>
          (
            await dbs.leaf.query('select 1 from londiste.get_table_list($1) where table_name = $2', [
              q,
              'public.t',
            ])
          ).rows.length > 0,
      );
    }
    let stop = false;
    const writer = (d: Db, base: number, lo: number) =>
      (async () => {
        let i = 0;
        while (!stop) {
          await d.query("insert into t values ($1, 'new', 1)", [base + i]);
          await d.query("update t set v = v || '+', n = n + 1 where id = $1", [lo + ((i * 7919) % 10000)]);
          await d.query('delete from t where id = $1', [lo + ((i * 104729) % 10000)]);
          i++;
          await new Promise((r) => setTimeout(r, 3));
        }
      })();
    const writers = [writer(dbs.r1, 100_000, 1), writer(dbs.r2, 200_000, 10_001)];
    const added = await dbs.leaf.one('select * from londiste.local_add_table($1, $2, $3)', [
      'part1',
      'public.t',
      ['merge_all'],
    ]);
    expect(added.ret_code).toBe(200);
    await waitUntil('the kill at copy:bare', async () => !existsSync(killFile), 60_000);
    await waitUntil(
      'both parts ok on the leaf',
      async () =>
        (await a.tableState('leaf', 'public.t')) === 'ok' &&
        (await b.tableState('leaf', 'public.t')) === 'ok',
      120_000,
    );
    stop = true;
    await Promise.all(writers);
    await a.caughtUp('leaf', 'r1');
    await b.caughtUp('leaf', 'r2');
    const [f1, f2, fl] = [await fingerprint(dbs.r1), await fingerprint(dbs.r2), await fingerprint(dbs.leaf)];
    expect(BigInt(fl.n)).toBe(BigInt(f1.n) + BigInt(f2.n));
    expect(BigInt(fl.sum)).toBe(BigInt(f1.sum) + BigInt(f2.sum));
    const idx = await dbs.leaf.one(
      `select count(*)::int as n from pg_index where indrelid = 'public.t'::regclass`,
    );
    expect(idx.n).toBe(2);
    for (const p of procs) p.kill('SIGTERM');
  }, 200_000);
});
