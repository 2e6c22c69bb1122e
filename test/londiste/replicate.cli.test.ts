// The whole tool as a user runs it: `skytools londiste <ini> …` processes for a root and a leaf —
// create the nodes, add a table on both, run both workers (the leaf's copy job a process of its own),
// write on the root, `wait-sync` on the leaf, and the tables are equal; `tables` and `status` say so.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTicker } from '../../layers/pgq/ticker.ts';
import { silentLogger } from '../../layers/util/log.ts';
import { connectUrl, useLondisteSet } from './replication.ts';

const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-replicate-'));
const f = useLondisteSet(['root', 'leaf']);
const procs: ChildProcess[] = [];
const ticker = new AbortController();
let tickerDone: Promise<unknown> = Promise.resolve();

function ini(node: string, extra: string[] = []): string {
  const file = path.join(dir, `${node}.ini`);
  writeFileSync(
    file,
    [
      '[londiste]',
      `job_name = w_${node}`,
      'queue_name = lq',
      `db = ${f.s.db(node).url}`,
      `node_name = ${node}`,
      'loop_delay = 0.1',
      ...extra,
      '',
    ].join('\n'),
  );
  return file;
}

function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'londiste', ...args],
      { encoding: 'utf8', timeout: 90_000 },
      (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

beforeAll(() => {
  tickerDone = runTicker({
    connect: connectUrl(f.s.db('root').url),
    tickPeriodMs: 50,
    signal: ticker.signal,
    log: silentLogger,
  });
});
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null)));
  ticker.abort();
  await tickerDone;
  rmSync(dir, { recursive: true, force: true });
});

describe('skytools londiste: root → leaf replication end to end', () => {
  it('replicates a table added on both nodes, and wait-sync returns once the leaf has caught up', async () => {
    const { s } = f;
    const ddl =
      'create table public.orders (id bigint primary key, customer text, total numeric(12,2), at timestamptz)';
    await s.db('root').query(ddl);
    await s.db('leaf').query(ddl);
    await s
      .db('root')
      .query("insert into orders select g, 'c' || (g % 97), g * 1.5, now() from generate_series(1, 20000) g");
    const rootIni = ini('root');
    const leafIni = ini('leaf', [`initial_provider_location = ${s.db('root').url}`]);
    expect(await run(rootIni, 'create-root')).toMatchObject({ code: 0 });
    expect(await run(leafIni, 'create-leaf')).toMatchObject({ code: 0 });
    await s.db('root').query("select pgq.set_queue_config('lq', 'ticker_max_lag', '50 milliseconds')");
    for (const node of [rootIni, leafIni]) {
      const p = spawn(process.execPath, [cli, 'londiste', node, 'worker'], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      procs.push(p);
    }
    expect(await run(rootIni, 'add-table', 'orders')).toMatchObject({ code: 0 });
    const added = await run(leafIni, 'add-table', 'orders', '--wait-sync');
    expect(added).toMatchObject({ code: 0 });
    for (let i = 0; i < 50; i++) {
      await s.db('root').query('update orders set total = total + 1 where id = $1', [i * 37 + 1]);
      await s.db('root').query("insert into orders values ($1, 'new', 1, now())", [20001 + i]);
    }
    await s.db('root').query('delete from orders where id between 100 and 199');
    const synced = await run(leafIni, 'wait-sync');
    expect(synced.code).toBe(0);
    expect(await s.fingerprint('leaf', 'orders')).toEqual(await s.fingerprint('root', 'orders'));
    const tables = await run(leafIni, 'tables');
    expect(tables.out).toMatch(/public\.orders\s+ok/);
    const status = await run(leafIni, 'status');
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/leaf \(leaf\)[^\n]*\n\s+Tables: 1\/0\/0/);
  }, 180_000);
});
