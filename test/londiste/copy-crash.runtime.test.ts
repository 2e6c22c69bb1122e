// kill -9 of the copy job or of the main worker at every step of the copy protocol, writes going on
// at the root all the while: after a restart (the main worker relaunches a dead copy job by
// itself; a killed main worker is started again, as a supervisor would), the table reaches ok and
// equals the root's, with no manual resync.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useLondisteSet, waitUntil } from './replication.ts';

const fixture = path.resolve(import.meta.dirname, 'fixtures/londiste-job.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-crash-'));

const POINTS = [
  'main:in-copy',
  'copy:loaded',
  'copy:committed',
  'copy:wanna-sync',
  'main:do-sync',
  'copy:before-ok',
  'copy:ok',
];

describe('londiste copy survives kill -9 at every step', () => {
  const f = useLondisteSet(['root', 'leaf']);
  let main: ChildProcess | null = null;
  // Every main worker started, each the leader of its own process group (its copy jobs too).
  const groups: number[] = [];
  const startMain = (env: Record<string, string> = {}) => {
    const { s } = f;
    main = spawn(process.execPath, [fixture, s.db('leaf').url, s.queue, 'w_leaf'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...env },
      detached: true,
    });
    if (main.pid) groups.push(main.pid);
  };
  /** Stops the main worker gracefully (its copy jobs may run on, as the original's do). */
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

  for (const point of POINTS) {
    it(`kill at ${point}`, async () => {
      const { s } = f;
      const table = `public.t_${point.replace(/\W/g, '_')}`;
      const ddl = `create table ${table} (id bigint primary key, v text, n int)`;
      await s.db('root').query(ddl);
      await s.db('leaf').query(ddl);
      await s.db('root').query(`insert into ${table} select g, 'v' || g, g from generate_series(1, 3000) g`);
      await s.addTable('root', table);
      const killFile = path.join(dir, point);
      writeFileSync(killFile, '');
      await stopMain();
      startMain({ LONDISTE_KILL_AT: point, LONDISTE_KILL_FILE: killFile });
      await s.knows('leaf', table);
      let stop = false;
      let next = 3001;
      const writer = (async () => {
        while (!stop) {
          await s.db('root').query(`insert into ${table} values ($1, 'new', 1)`, [next++]);
          await s
            .db('root')
            .query(`update ${table} set v = v || '+', n = n + 1 where id = $1`, [1 + (next % 3000)]);
          await s.db('root').query(`delete from ${table} where id = $1`, [next - 2000]);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await s.addTable('leaf', table);
      await waitUntil(`the kill at ${point}`, async () => !existsSync(killFile));
      if (point.startsWith('main:')) {
        await waitUntil('main worker gone', async () => main?.exitCode !== null || main?.signalCode !== null);
        startMain(); // a supervisor restarts it
      }
      await waitUntil(
        'table ok on the leaf',
        async () => (await s.tableState('leaf', table)) === 'ok',
        90_000,
      );
      stop = true;
      await writer;
      // replay catches up through the main worker
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
      // no copy consumer is left behind, here or at the provider (a killed job's is removed by
      // the main worker within a few seconds)
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
    }, 150_000);
  }
});
