// kill -9 of a parallel copy (3 streams) at its own steps — the bare table committed, a stream
// committed while the others still load, everything loaded and rebuilt before the state change —
// with writes going on at the root: the main worker relaunches the copy job, which finds the
// table still in-copy with its DDL stored, starts over and ends with the table equal to the
// root's, its indexes back, nothing stored, no copy consumer left.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useLondisteSet, waitUntil } from './replication.ts';

const fixture = path.resolve(import.meta.dirname, 'fixtures/londiste-job.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-pcrash-'));
const ROWS = 20_000;

describe('parallel copy survives kill -9 while its streams run', () => {
  const f = useLondisteSet(['root', 'leaf']);
  let main: ChildProcess | null = null;
  const groups: number[] = [];
  const startMain = (env: Record<string, string>) => {
    const { s } = f;
    main = spawn(process.execPath, [fixture, s.db('leaf').url, s.queue, 'w_leaf'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, LONDISTE_COPY_STREAMS: '3', LONDISTE_COPY_MIN_ROWS: '2000', ...env },
      detached: true,
    });
    if (main.pid) groups.push(main.pid);
  };
  const stopMain = async () => {
    const m = main;
    main = null;
    if (!m || m.exitCode !== null || m.signalCode !== null) return;
    await new Promise((r) => {
      m.once('exit', r);
      m.kill('SIGTERM');
    });
  };
  afterAll(() => {
    for (const g of groups) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('sets up root and leaf', async () => {
    const { s } = f;
    await s.build('root', [['leaf', 'leaf', 'root']]);
    s.startTicker('root');
    s.startWorker('root');
  });

  for (const point of ['copy:bare', 'copy:stream-done', 'copy:loaded']) {
    it(`kill at ${point}`, async () => {
      const { s } = f;
      const table = `public.p_${point.replace(/\W/g, '_')}`;
      const ddl = `create table ${table} (id bigint primary key, v text, n int)`;
      await s.db('root').query(ddl);
      await s.db('leaf').query(ddl);
      await s.db('leaf').query(`create index on ${table} (n)`);
      await s
        .db('root')
        .query(`insert into ${table} select g, repeat('v', 200) || g, g from generate_series(1, ${ROWS}) g`);
      await s.db('root').query(`analyze ${table}`);
      await s.addTable('root', table);
      const killFile = path.join(dir, point);
      writeFileSync(killFile, '');
      await stopMain();
      startMain({ LONDISTE_KILL_AT: point, LONDISTE_KILL_FILE: killFile });
      await s.knows('leaf', table);
      let stop = false;
      let next = ROWS + 1;
      const writer = (async () => {
        while (!stop) {
          await s.db('root').query(`insert into ${table} values ($1, 'new', 1)`, [next++]);
          await s
            .db('root')
            .query(`update ${table} set v = v || '+', n = n + 1 where id = $1`, [1 + ((next * 7919) % ROWS)]);
          await s.db('root').query(`delete from ${table} where id = $1`, [1 + ((next * 104729) % ROWS)]);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await s.addTable('leaf', table);
      await waitUntil(`the kill at ${point}`, async () => !existsSync(killFile), 90_000);
      await waitUntil(
        'table ok on the leaf',
        async () => (await s.tableState('leaf', table)) === 'ok',
        120_000,
      );
      stop = true;
      await writer;
      await s.db('root').query('select pgq.force_tick($1)', [s.queue]);
      await waitUntil(
        'leaf equals root',
        async () => {
          const [a, b] = [await s.fingerprint('root', table), await s.fingerprint('leaf', table)];
          return a.n === b.n && a.sum === b.sum;
        },
        60_000,
      );
      expect(await s.fingerprint('leaf', table)).toEqual(await s.fingerprint('root', table));
      const idx = await s.db('leaf').one(
        `select count(*)::int as n, count(*) filter (where indisprimary)::int as pk
           from pg_index where indrelid = $1::regclass`,
        [table],
      );
      expect(idx).toEqual({ n: 2, pk: 1 });
      const info = await s
        .db('leaf')
        .one('select dropped_ddl from londiste.table_info where queue_name = $1 and table_name = $2', [
          s.queue,
          table,
        ]);
      expect(info.dropped_ddl).toBeNull();
      await waitUntil(
        'copy consumers gone',
        async () => {
          const here = await s
            .db('leaf')
            .query("select 1 from pgq_node.local_state where consumer_name like '%.copy.%'");
          const there = await s
            .db('root')
            .query("select 1 from pgq.get_consumer_info($1) where consumer_name like '%.copy.%'", [s.queue]);
          return here.rows.length === 0 && there.rows.length === 0;
        },
        30_000,
      );
      await stopMain();
    }, 200_000);
  }
});
