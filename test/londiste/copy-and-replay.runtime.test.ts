// add-table on a leaf: the copy job copies the table while the root keeps writing, catches up,
// hands over to the main worker; afterwards the leaf follows every insert, update and delete.
import { describe, expect, it } from 'vitest';
import { useLondisteSet } from './replication.ts';

const DDL = 'create table public.t (id bigint primary key, v text, n int, ts timestamptz)';

describe('londiste copy and replay (root → leaf)', () => {
  const f = useLondisteSet(['root', 'leaf']);

  it('copies a table under writes and then replays it', async () => {
    const { s } = f;
    await s.db('root').query(DDL);
    await s.db('leaf').query(DDL);
    await s
      .db('root')
      .query("insert into t select g, 'v' || g, g % 100, now() from generate_series(1, 5000) g");
    await s.build('root', [['leaf', 'leaf', 'root']]);
    s.startAll();
    await s.addTable('root', 'public.t');
    // the leaf learns about the table from the root's londiste.add-table event
    await s.knows('leaf', 'public.t');
    // writes on the root while the copy runs
    let stop = false;
    let next = 5001;
    const writer = (async () => {
      while (!stop) {
        await s.db('root').query("insert into t values ($1, 'new', 1, now())", [next++]);
        await s.db('root').query("update t set v = v || '+', n = n + 1 where id = $1", [1 + (next % 5000)]);
        await s.db('root').query('delete from t where id = $1', [next - 3000]);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const started = Date.now();
    await s.addTable('leaf', 'public.t');
    await s.waitOk('leaf', 'public.t');
    const tookMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await writer;
    await s.caughtUp('leaf', 'root');
    expect(await s.fingerprint('leaf', 't')).toEqual(await s.fingerprint('root', 't'));
    // the copy consumer is gone again
    const copyConsumers = await s
      .db('leaf')
      .query("select consumer_name from pgq_node.local_state where consumer_name like '%.copy.%'");
    expect(copyConsumers.rows).toEqual([]);
    console.log(`add-table → ok: ${tookMs} ms`);
  }, 150_000);
});
