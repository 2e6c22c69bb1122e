// Our compare against python3-londiste's `londiste <ini> compare` on the same root → leaf of the
// original extensions (our worker and ticker drive it, as in ours-on-original): the same verdict
// (exit code = tables that differ) on equal tables, on drift (a missing row, a changed value,
// NULL ↔ value), with --count-only on drift that keeps the count; after our repair --apply the
// original finds the tables equal too. Skipped, saying why, without the Debian server.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTicker } from '../../layers/pgq/ticker.ts';
import { silentLogger } from '../../layers/util/log.ts';
import { adminQuery, probeCompat, urlFor } from '../support/compat.ts';
import { connectUrl } from './replication.ts';

const env = await probeCompat();
let hasLondiste = false;
if (env.ok) {
  const c = new pg.Client({ connectionString: urlFor('postgres') });
  await c.connect();
  const r = await c.query("select 1 from pg_available_extensions where name = 'londiste'");
  hasLondiste = r.rows.length > 0 && existsSync('/usr/bin/londiste');
  await c.end();
}
const ready = env.ok && hasLondiste;
if (!ready)
  console.warn(
    `compare against python3-londiste skipped: ${env.reason || 'no londiste extension or /usr/bin/londiste'}`,
  );

const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');
type Node = 'root' | 'leaf';
type Run = { code: number; out: string; err: string };

describe.runIf(ready)('compare: ours and the original give the same verdict', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-cmp-'));
  const suffix = randomBytes(4).toString('hex');
  const names: Record<Node, string> = { root: `lcmp_r_${suffix}`, leaf: `lcmp_l_${suffix}` };
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
        `logfile = ${dir}/${node}.log`,
        `pidfile = ${dir}/${node}.pid`,
        ...(node === 'leaf' ? [`initial_provider_location = ${urlFor(names.root)}`] : []),
        '',
      ].join('\n'),
    );
    return file;
  };
  const exec = (cmd: string, args: string[]) =>
    new Promise<Run>((resolve) => {
      execFile(cmd, args, { encoding: 'utf8', timeout: 90_000 }, (e, out, err) =>
        resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
      );
    });
  const ours = (node: Node, ...args: string[]) =>
    exec(process.execPath, [cli, 'londiste', ini(node), ...args]);
  const original = (...args: string[]) =>
    exec('/usr/bin/python3', ['/usr/bin/londiste', ini('leaf'), ...args]);
  const ok = async (node: Node, ...args: string[]) => {
    const r = await ours(node, ...args);
    if (r.code !== 0)
      throw new Error(`skytools londiste ${node} ${args.join(' ')}: exit ${r.code}\n${r.err}`);
  };
  /** Both tools' exit codes for the same compare. */
  const verdicts = async (...args: string[]) => {
    const o = await ours('leaf', 'compare', ...args, '-q');
    const p = await original('compare', ...args);
    return { ours: o.code, original: p.code, detail: `${o.out}${o.err}\n---\n${p.err.slice(-2000)}` };
  };
  const drift = (sql: string) =>
    dbs.leaf.query(`begin; set local session_replication_role = replica; ${sql}; commit`);

  beforeAll(async () => {
    for (const node of ['root', 'leaf'] as const) {
      await adminQuery(`create database ${names[node]}`);
      dbs[node] = new pg.Client({ connectionString: urlFor(names[node]) });
      dbs[node].on('error', () => {});
      await dbs[node].connect();
      await dbs[node].query('create extension pgq; create extension pgq_node; create extension londiste');
      await dbs[node].query('create table public.a (id bigint primary key, v text, n numeric)');
      await dbs[node].query('create table public.b (k text, j int, v text, primary key (k, j))');
    }
    await dbs.root.query("insert into a select g, 'a' || g, g * 1.5 from generate_series(1, 3000) g");
    await dbs.root.query("insert into b select 'k' || (g % 10), g, 'b' || g from generate_series(1, 500) g");
    await ok('root', 'create-root');
    await ok('leaf', 'create-leaf');
    await dbs.root.query("select pgq.set_queue_config('lq', 'ticker_max_lag', '50 milliseconds')");
    tickerDone = runTicker({
      connect: connectUrl(urlFor(names.root)),
      tickPeriodMs: 50,
      signal: ticker.signal,
      log: silentLogger,
    });
    for (const node of ['root', 'leaf'] as const)
      procs.push(
        spawn(process.execPath, [cli, 'londiste', ini(node), 'worker'], {
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    await ok('root', 'add-table', 'a', 'b');
    await ok('leaf', 'add-table', 'a', 'b', '--wait-sync');
  }, 150_000);

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

  it('equal tables: both exit 0', async () => {
    const v = await verdicts();
    expect([v.ours, v.original], v.detail).toEqual([0, 0]);
  }, 90_000);

  it('drift in both tables: both exit 2; one table named: both exit 1', async () => {
    await drift("delete from a where id = 17; update b set v = null where k = 'k3' and j = 13");
    const v = await verdicts();
    expect([v.ours, v.original], v.detail).toEqual([2, 2]);
    const one = await verdicts('public.b');
    expect([one.ours, one.original], one.detail).toEqual([1, 1]);
  }, 90_000);

  it('a change that keeps the count: --count-only finds nothing in either, the checksum finds it', async () => {
    const r = await ours('leaf', 'repair', '--apply', '-q');
    expect(r.code, r.err).toBe(0);
    await drift("update a set n = null where id = 5; update a set v = 'x' where id = 6");
    const counted = await verdicts('public.a', '--count-only');
    expect([counted.ours, counted.original], counted.detail).toEqual([0, 0]);
    const summed = await verdicts('public.a');
    expect([summed.ours, summed.original], summed.detail).toEqual([1, 1]);
  }, 90_000);

  it('after our repair --apply the original finds every table equal', async () => {
    const r = await ours('leaf', 'repair', '--apply', '-q');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('public.a: 0 insert(s), 2 update(s), 0 delete(s) applied');
    const v = await verdicts();
    expect([v.ours, v.original], v.detail).toEqual([0, 0]);
  }, 90_000);
});
