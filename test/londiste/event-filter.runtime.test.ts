// The worker's event filters: `local_only` reads only the events of tables registered on the node
// (a branch then does not pass the others on), `table_filter` replays only the tables it names;
// the set's own events (sequences, table registrations) and the cascade's still pass, so the node
// keeps its position and state.
import { describe, expect, it } from 'vitest';
import { useLondisteSet } from './replication.ts';

describe('londiste event filters (root → branch → leaf)', () => {
  const f = useLondisteSet(['root', 'branch', 'leaf']);
  const TABLES = ['public.a', 'public.b', 'public.c'];

  const addOn = async (node: string, table: string) => {
    const { s } = f;
    await s.knows(node, table);
    await s.addTable(node, table);
    await s.waitOk(node, table);
  };

  /** Events of `table` in the branch's own queue (what it passed on to the leaf). */
  const passedOn = async (table: string) =>
    (
      await f.s.db('branch').one(
        `select count(*)::int as n from pgq.event_all e join pgq.queue q on q.queue_id = e.ev_queue
            where q.queue_name = $1 and e.ev_extra1 = $2`,
        [f.s.queue, table],
      )
    ).n as number;

  it('sets up three tables on the root; the branch has a and b, the leaf a and b', async () => {
    const { s } = f;
    for (const n of ['root', 'branch', 'leaf'])
      for (const t of TABLES) await s.db(n).query(`create table ${t} (id int primary key, v text)`);
    await s.build('root', [
      ['branch', 'branch', 'root'],
      ['leaf', 'leaf', 'branch'],
    ]);
    // local_only on the branch, table_filter = a on the leaf
    s.patch.branch = { localOnly: true };
    s.patch.leaf = { tableFilter: ['a'] };
    s.startAll();
    for (const t of TABLES) await s.addTable('root', t);
    for (const t of ['public.a', 'public.b']) {
      await addOn('branch', t);
      await addOn('leaf', t);
    }
  });

  it('local_only: the branch neither applies nor passes on events of a table it does not have', async () => {
    const { s } = f;
    for (const t of TABLES)
      await s.db('root').query(`insert into ${t} select g, 'x' || g from generate_series(1, 20) g`);
    await s.caughtUp('branch', 'root');
    expect(await s.fingerprint('branch', 'public.a')).toEqual(await s.fingerprint('root', 'public.a'));
    expect(await s.fingerprint('branch', 'public.b')).toEqual(await s.fingerprint('root', 'public.b'));
    expect((await s.db('branch').one('select count(*)::int as n from public.c')).n).toBe(0);
    expect(await passedOn('public.a')).toBe(20);
    expect(await passedOn('public.c')).toBe(0);
    // never fetched, so never counted as ignored
    expect(s.workers.get('branch')?.worker.lstats.ignored).toBe(0);
  });

  it('table_filter: the leaf replays only a; b stays as copied; the set events still pass', async () => {
    const { s } = f;
    await s.caughtUp('leaf', 'root');
    expect(await s.fingerprint('leaf', 'public.a')).toEqual(await s.fingerprint('root', 'public.a'));
    expect((await s.db('leaf').one('select count(*)::int as n from public.b')).n).toBe(0);
    // a table registered on the root later still reaches the leaf's table list (a set event)
    await s.db('root').query('create table public.d (id int primary key)');
    await s.addTable('root', 'public.d');
    await s.knows('leaf', 'public.d');
  });
});
