// Mixed workers on one leaf: nodes running our SQL, set up by our `skytools londiste`
// (create-root / create-leaf / add-table), replayed first by the original `londiste` worker
// (Debian's python3-londiste: its copy through the state machine to ok, then replay), which is
// stopped mid-stream while the root keeps writing; our worker takes the node over from there,
// is stopped mid-stream in turn and the original's takes it back. Each hand-over must neither
// lose nor repeat a batch: in the end the tables are equal (count + checksum) and every row the
// root wrote is there once. Skipped, saying why, without the Debian server or python3-londiste.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { runTicker } from '../../layers/pgq/ticker.ts';
import { silentLogger } from '../../layers/util/log.ts';
import { adminQuery, probeCompat, urlFor } from '../support/compat.ts';
import { connectUrl, waitUntil } from './replication.ts';

const LONDISTE = '/usr/bin/londiste';
const env = await probeCompat();
const ready =
  env.ok &&
  env.hasPythonPgq &&
  existsSync(LONDISTE) &&
  spawnSync(env.python, ['-c', 'import londiste']).status === 0;
if (!ready) console.warn(`mixed londiste workers skipped: ${env.reason || 'python3-londiste not installed'}`);

const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');
type Node = 'root' | 'leaf';

describe.runIf(ready)('the original londiste worker and ours taking turns on a leaf', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-mixed-'));
  const suffix = randomBytes(4).toString('hex');
  const names: Record<Node, string> = { root: `lmx_r_${suffix}`, leaf: `lmx_l_${suffix}` };
  const dbs = {} as Record<Node, pg.Client>;
  const ticker = new AbortController();
  let tickerDone: Promise<unknown> = Promise.resolve();
  const procs: ChildProcess[] = [];
  let nextId = 100_000;
  /** Ids from here on were written after the copy: the leaf gets each by replay only, once. */
  let firstReplayed = Number.MAX_SAFE_INTEGER;
  const doubled = async () =>
    (
      await dbs.leaf.query(
        'select id from public.applied_log where id >= $1 group by id having count(*) > 1 order by id limit 5',
        [firstReplayed],
      )
    ).rows.map((r) => r.id);

  // One job, two tools: the same job_name, queue and database, each its own ini (pid/log files).
  const ours = (node: Node) => {
    const file = path.join(dir, `${node}.ours.ini`);
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
  const theirs = (node: Node) => {
    const file = path.join(dir, `${node}.py.ini`);
    writeFileSync(
      file,
      [
        '[londiste]',
        `job_name = w_${node}`,
        'queue_name = lq',
        `db = ${urlFor(names[node])}`,
        'loop_delay = 0.2',
        `logfile = ${dir}/${node}.py.log`,
        `pidfile = ${dir}/${node}.py.pid`,
        '',
      ].join('\n'),
    );
    return file;
  };
  const skytools = (node: Node, ...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(
        process.execPath,
        [cli, 'londiste', ours(node), ...args],
        { encoding: 'utf8', timeout: 90_000 },
        (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
      );
    });
  const ok = async (node: Node, ...args: string[]) => {
    const r = await skytools(node, ...args);
    if (r.code !== 0)
      throw new Error(`skytools londiste ${node} ${args.join(' ')}: exit ${r.code}\n${r.err}`);
    return r.out;
  };
  const start = (tool: 'ours' | 'theirs', node: Node): ChildProcess => {
    const p =
      tool === 'ours'
        ? spawn(process.execPath, [cli, 'londiste', ours(node), 'worker'], {
            stdio: ['ignore', 'ignore', 'inherit'],
          })
        : spawn(env.python, [LONDISTE, theirs(node), 'worker'], { stdio: 'ignore' });
    procs.push(p);
    return p;
  };
  const stop = async (p: ChildProcess) => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(t);
  };
  const fingerprint = async (node: Node) =>
    (
      await dbs[node].query(
        "select count(*)::text as n, sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint)::text as sum from public.t t",
      )
    ).rows[0];
  /** Inserts, updates and deletes on the root, one transaction each, for ms milliseconds. */
  const write = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const id = nextId++;
      await dbs.root.query("insert into public.t values ($1, 'w', 1)", [id]);
      await dbs.root.query('update public.t set n = n + 1 where id = $1', [1 + (id % 1000)]);
      if (id % 3 === 0) await dbs.root.query('delete from public.t where id = $1', [id - 2]);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  /** The leaf has every change the root has now (same count and checksum). */
  const equal = async (ms = 60_000) => {
    const want = await fingerprint('root');
    await waitUntil(
      'the leaf equals the root',
      async () => JSON.stringify(await fingerprint('leaf')) === JSON.stringify(want),
      ms,
    ).catch(() => {});
    expect(await fingerprint('leaf')).toEqual(want);
  };

  beforeAll(async () => {
    for (const node of ['root', 'leaf'] as const) {
      await adminQuery(`create database ${names[node]}`);
      dbs[node] = new pg.Client({ connectionString: urlFor(names[node]) });
      dbs[node].on('error', () => {});
      await dbs[node].connect();
      await install(dbs[node]);
      await dbs[node].query('create table public.t (id bigint primary key, v text, n int)');
    }
    await dbs.root.query("insert into public.t select g, 'v' || g, g from generate_series(1, 3000) g");
    // Every insert the leaf's replay attempts, whichever tool applies it: an ALWAYS trigger fires
    // under session_replication_role = replica too, and a BEFORE trigger also on an upsert that
    // finds the row already there — so a batch applied twice shows as an id logged twice.
    await dbs.leaf.query(`
      create table public.applied_log (id bigint not null);
      create function public.log_insert() returns trigger language plpgsql as
        $$ begin insert into public.applied_log values (new.id); return new; end $$;
      create trigger log_insert before insert on public.t for each row execute function public.log_insert();
      alter table public.t enable always trigger log_insert`);
  });
  afterAll(async () => {
    for (const p of procs) await stop(p);
    ticker.abort();
    await tickerDone;
    for (const node of ['root', 'leaf'] as const) {
      await dbs[node]?.end().catch(() => {});
      await adminQuery(`drop database if exists ${names[node]} with (force)`).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('our setup, then the original worker copies the table to ok and replays', async () => {
    await ok('root', 'create-root');
    await ok('leaf', 'create-leaf');
    await ok('root', 'add-table', 't');
    await ok('leaf', 'add-table', 't');
    await dbs.root.query("select pgq.set_queue_config('lq', 'ticker_max_lag', '50 milliseconds')");
    tickerDone = runTicker({
      connect: connectUrl(urlFor(names.root)),
      tickPeriodMs: 50,
      signal: ticker.signal,
      log: silentLogger,
    });
    start('ours', 'root');
    const py = start('theirs', 'leaf');
    await write(1000);
    await waitUntil(
      'the original worker brings the table to ok',
      async () =>
        (await dbs.leaf.query("select merge_state from londiste.table_info where queue_name = 'lq'")).rows[0]
          ?.merge_state === 'ok',
      90_000,
    );
    await write(1000);
    await equal();
    firstReplayed = nextId;
    // the original stops mid-stream: writes keep coming while it goes
    const writing = write(3000);
    await new Promise((r) => setTimeout(r, 1000));
    await stop(py);
    await writing;
  }, 150_000);

  it('our worker takes the leaf over from the original: nothing lost or doubled', async () => {
    const mine = start('ours', 'leaf');
    await write(2000);
    await equal();
    expect(await doubled()).toEqual([]);
    expect((await skytools('leaf', 'wait-sync')).code).toBe(0);
    // and stops mid-stream in turn
    const writing = write(3000);
    await new Promise((r) => setTimeout(r, 1000));
    await stop(mine);
    await writing;
  }, 120_000);

  it('the original takes it back from ours: nothing lost or doubled', async () => {
    start('theirs', 'leaf');
    await write(2000);
    await equal();
    expect(await doubled()).toEqual([]);
    const r = await dbs.leaf.query(
      'select count(distinct id)::int as n from public.applied_log where id >= $1',
      [firstReplayed],
    );
    expect(r.rows[0].n).toBeGreaterThan(100);
  }, 120_000);
});
