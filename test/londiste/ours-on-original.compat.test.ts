// Our `skytools londiste` operating nodes that run the original extensions only (Debian's
// `create extension pgq, pgq_node, londiste` — no SQL of ours): create-root / create-leaf,
// add-table on both, our worker processes (the leaf's copy job a process of its own) and our
// ticker, inserts / updates / deletes / truncate on the root, wait-sync, tables equal (count +
// checksum); tables / seqs / status; add-seq with the sequence moving on the leaf; execute of a
// DDL file applied once on the leaf. Skipped, saying why, without the Debian server.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTicker } from '../../layers/pgq/ticker.ts';
import { silentLogger } from '../../layers/util/log.ts';
import { adminQuery, probeCompat, urlFor } from '../support/compat.ts';
import { connectUrl, waitUntil } from './replication.ts';

const env = await probeCompat();
let hasLondisteExt = false;
if (env.ok) {
  const c = new pg.Client({ connectionString: urlFor('postgres') });
  await c.connect();
  const r = await c.query("select 1 from pg_available_extensions where name = 'londiste'");
  hasLondisteExt = r.rows.length > 0;
  await c.end();
}
const ready = env.ok && hasLondisteExt;
if (!ready)
  console.warn(
    `skytools londiste on the original extensions skipped: ${env.reason || 'no londiste extension (install postgresql-15-londiste-sql)'}`,
  );

const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');

type Node = 'root' | 'leaf';

/** count + an order-independent checksum of every row's text. */
export const FINGERPRINT = (table: string) =>
  `select count(*)::text as n, sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint)::text as sum from ${table} t`;

describe.runIf(ready)('skytools londiste on nodes running the original extensions', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-oc-'));
  const suffix = randomBytes(4).toString('hex');
  const names: Record<Node, string> = { root: `loc_r_${suffix}`, leaf: `loc_l_${suffix}` };
  const dbs = {} as Record<Node, pg.Client>;
  const procs: ChildProcess[] = [];
  const ticker = new AbortController();
  let tickerDone: Promise<unknown> = Promise.resolve();

  const ini = (node: Node) => {
    const file = path.join(dir, `${node}.ini`);
    writeFileSync(
      file,
      [
        '[londiste]',
        `job_name = w_${node}`,
        'queue_name = lq',
        `db = ${urlFor(names[node])}`,
        `node_name = ${node}`,
        'loop_delay = 0.1',
        ...(node === 'leaf' ? [`initial_provider_location = ${urlFor(names.root)}`] : []),
        '',
      ].join('\n'),
    );
    return file;
  };
  const run = (node: Node, ...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(
        process.execPath,
        [cli, 'londiste', ini(node), ...args],
        { encoding: 'utf8', timeout: 90_000 },
        (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
      );
    });
  const ok = async (node: Node, ...args: string[]) => {
    const r = await run(node, ...args);
    if (r.code !== 0)
      throw new Error(`skytools londiste ${node} ${args.join(' ')}: exit ${r.code}\n${r.err}`);
    return r.out;
  };
  const fingerprint = async (node: Node, table: string) =>
    (await dbs[node].query(FINGERPRINT(table))).rows[0];

  beforeAll(async () => {
    for (const node of ['root', 'leaf'] as const) {
      await adminQuery(`create database ${names[node]}`);
      dbs[node] = new pg.Client({ connectionString: urlFor(names[node]) });
      dbs[node].on('error', () => {});
      await dbs[node].connect();
      await dbs[node].query('create extension pgq; create extension pgq_node; create extension londiste');
      await dbs[node].query(
        'create table public.orders (id bigint primary key, customer text, total numeric(12,2), at timestamptz)',
      );
      await dbs[node].query('create sequence public.order_no');
    }
    await dbs.root.query(
      "insert into orders select g, 'c' || (g % 97), g * 1.5, now() from generate_series(1, 5000) g",
    );
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(
      procs.map((p) =>
        p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : null,
      ),
    );
    ticker.abort();
    await tickerDone;
    for (const node of ['root', 'leaf'] as const) {
      await dbs[node]?.end().catch(() => {});
      await adminQuery(`drop database if exists ${names[node]} with (force)`).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('the nodes run the original extensions, not our SQL', async () => {
    const r = await dbs.leaf.query(
      "select extname from pg_extension where extname in ('pgq', 'pgq_node', 'londiste') order by 1",
    );
    expect(r.rows.map((x) => x.extname)).toEqual(['londiste', 'pgq', 'pgq_node']);
    // the C trigger function of the original is what add-table will put on the root's table
    const t = await dbs.root.query(
      "select l.lanname from pg_proc p join pg_language l on l.oid = p.prolang where p.oid = 'pgq.logutriga'::regproc",
    );
    expect(t.rows[0].lanname).toBe('c');
  });

  it('create-root, create-leaf, add-table on both, our workers copy and replay to wait-sync', async () => {
    await ok('root', 'create-root');
    await ok('leaf', 'create-leaf');
    await dbs.root.query("select pgq.set_queue_config('lq', 'ticker_max_lag', '50 milliseconds')");
    tickerDone = runTicker({
      connect: connectUrl(urlFor(names.root)),
      tickPeriodMs: 50,
      signal: ticker.signal,
      log: silentLogger,
    });
    for (const node of ['root', 'leaf'] as const) {
      procs.push(
        spawn(process.execPath, [cli, 'londiste', ini(node), 'worker'], {
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    }
    await ok('root', 'add-table', 'orders');
    await ok('leaf', 'add-table', 'orders', '--wait-sync');
    const trig = await dbs.root.query(
      "select tgname from pg_trigger where tgrelid = 'public.orders'::regclass and not tgisinternal order by 1",
    );
    expect(trig.rows.map((x) => x.tgname)).toEqual(['_londiste_lq', '_londiste_lq_truncate']);

    for (let i = 0; i < 50; i++) {
      await dbs.root.query('update orders set total = total + 1 where id = $1', [i * 37 + 1]);
      await dbs.root.query("insert into orders values ($1, 'new', 1, now())", [5001 + i]);
    }
    // (a primary key update is refused by the original's C trigger itself, so none here)
    await dbs.root.query('delete from orders where id between 100 and 199');
    expect((await run('leaf', 'wait-sync')).code).toBe(0);
    const want = await fingerprint('root', 'orders');
    expect(want.n).toBe(String(5000 + 50 - 100));
    expect(await fingerprint('leaf', 'orders')).toEqual(want);
  }, 150_000);

  it('a truncate on the root empties the leaf table, and later rows follow it', async () => {
    await dbs.root.query('truncate orders');
    await dbs.root.query("insert into orders select g, 'after', g, now() from generate_series(1, 300) g");
    expect((await run('leaf', 'wait-sync')).code).toBe(0);
    const want = await fingerprint('root', 'orders');
    expect(want.n).toBe('300');
    expect(await fingerprint('leaf', 'orders')).toEqual(want);
  }, 90_000);

  it('tables and status report the table ok on the leaf', async () => {
    expect(await ok('leaf', 'tables')).toMatch(/public\.orders\s+ok/);
    const status = await ok('leaf', 'status');
    expect(status).toMatch(/leaf \(leaf\)[^\n]*\n\s+Tables: 1\/0\/0/);
  }, 60_000);

  it('add-seq on both: the sequence moves on the leaf as on the root; seqs lists it', async () => {
    await ok('root', 'add-seq', 'order_no');
    await ok('leaf', 'add-seq', 'order_no');
    expect(await ok('leaf', 'seqs')).toMatch(/public\.order_no/);
    await dbs.root.query('select nextval($1) from generate_series(1, 42)', ['public.order_no']);
    const rootVal = (await dbs.root.query('select last_value from public.order_no')).rows[0].last_value;
    expect(rootVal).toBe('42');
    await waitUntil(
      'the leaf sequence reaches the root value',
      async () =>
        BigInt((await dbs.leaf.query('select last_value from public.order_no')).rows[0].last_value) >=
        BigInt(rootVal),
      60_000,
    );
  }, 90_000);

  it('execute of a DDL file runs once on the root and once on the leaf, in event order', async () => {
    const file = path.join(dir, 'add_note.sql');
    writeFileSync(file, 'alter table public.orders add column note text;\n');
    await ok('root', 'execute', file);
    await dbs.root.query(
      "insert into orders (id, customer, total, at, note) values (9999, 'x', 1, now(), 'noted')",
    );
    expect((await run('leaf', 'wait-sync')).code).toBe(0);
    const leafRow = await dbs.leaf.query('select note from orders where id = 9999');
    expect(leafRow.rows).toEqual([{ note: 'noted' }]);
    for (const node of ['root', 'leaf'] as const) {
      const applied = await dbs[node].query('select execute_file from londiste.applied_execute');
      expect(applied.rows).toEqual([{ execute_file: 'add_note.sql' }]);
    }
    // the same file again is skipped as already applied (londiste.execute_start's 301), on both
    await ok('root', 'execute', file);
    await dbs.root.query("update orders set note = 'again' where id = 9999");
    expect((await run('leaf', 'wait-sync')).code).toBe(0);
    for (const node of ['root', 'leaf'] as const) {
      const applied = await dbs[node].query('select count(*)::int as n from londiste.applied_execute');
      expect(applied.rows[0].n).toBe(1);
    }
    expect(await fingerprint('leaf', 'orders')).toEqual(await fingerprint('root', 'orders'));
  }, 90_000);
});
