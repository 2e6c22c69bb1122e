// The queue-only handlers through the worker: qtable on the root (BEFORE INSERT SKIP trigger:
// rows queued, never stored; taken as in sync), vtable / fake_local on a leaf without the table
// (local, ok, events ignored), qsplitter on a leaf (every event of the table into another queue
// of the leaf, with its type, data, extras and time, in the batch's transaction).
import { describe, expect, it } from 'vitest';
import { createHandlerString } from '../../layers/londiste/handler.ts';
import { buildHandler } from '../../layers/londiste/handlers/index.ts';
import { dbUrlencode } from '../../layers/londiste/urlenc.ts';
import { useLondisteSet, waitUntil } from './replication.ts';

function attrs(name: string, args: string[] = []): string {
  return dbUrlencode({ handler: createHandlerString(name, args) });
}

describe('queue-only handlers', () => {
  const f = useLondisteSet(['root', 'leaf']);

  it('qtable, vtable, fake_local and qsplitter replicate as the original', async () => {
    const { s } = f;
    const root = s.db('root');
    const leaf = s.db('leaf');
    await root.query(`create table public.qt (id int primary key, v text);
      create table public.vt (id int primary key, v text);
      create table public.fl (id int primary key, v text);
      create table public.sp (id int primary key, v text)`);
    await s.build('root', [['leaf', 'leaf', 'root']]);
    const q = s.queue;
    const qt = buildHandler('public.qt', 'qtable');
    expect(qt.needsTable()).toBe(false);
    expect(qt.triggerArgs([])).toEqual(['tgflags=BI', 'SKIP', 'expect_sync']);
    const add = (db: typeof root, t: string, tg: string[], a: string) =>
      db.one('select * from londiste.local_add_table($1, $2, $3, $4)', [q, t, tg, a]);
    expect((await add(root, 'public.qt', qt.triggerArgs([]), attrs('qtable'))).ret_code).toBe(200);
    for (const t of ['public.vt', 'public.fl', 'public.sp'])
      expect((await add(root, t, [], '')).ret_code).toBe(200);
    expect(await s.tableState('root', 'public.qt')).toBe('ok');

    await leaf.query("select pgq.create_queue('side')");
    await leaf.query("select pgq.register_consumer('side', 'reader')");
    s.startAll();
    await waitUntil(
      'leaf knows the tables',
      async () => (await leaf.query('select 1 from londiste.get_table_list($1)', [q])).rows.length === 4,
    );
    const vt = buildHandler('public.vt', 'vtable');
    const sp = buildHandler('public.sp', 'qsplitter(queue=side)');
    expect(vt.triggerArgs([])).toEqual(['virtual_table']);
    expect(buildHandler('public.fl', 'fake_local').triggerArgs([])).toEqual(['virtual_table']);
    expect((await add(leaf, 'public.vt', vt.triggerArgs([]), attrs('vtable'))).ret_code).toBe(200);
    expect((await add(leaf, 'public.fl', ['virtual_table'], attrs('fake_local'))).ret_code).toBe(200);
    expect(
      (await add(leaf, 'public.sp', sp.triggerArgs([]), attrs('qsplitter', ['queue=side']))).ret_code,
    ).toBe(200);
    for (const t of ['public.vt', 'public.fl', 'public.sp']) expect(await s.tableState('leaf', t)).toBe('ok');

    await root.query(`insert into public.qt values (1, 'queued only')`);
    await root.query(`insert into public.vt values (1, 'a'); insert into public.fl values (1, 'b')`);
    await root.query(`insert into public.sp values (1, 'x'), (2, 'y')`);
    await root.query(`update public.sp set v = 'z' where id = 2`);
    await root.query(`delete from public.sp where id = 1`);
    // qtable: the row went into the queue, not into the table
    expect((await root.query('select * from public.qt')).rows).toEqual([]);
    const rootEvents = await root.query(
      "select ev_type, ev_data from pgq.event_all where ev_extra1 = 'public.qt'",
    );
    expect(rootEvents.rows).toEqual([{ ev_type: 'I:id', ev_data: 'id=1&v=queued+only' }]);

    await s.caughtUp('leaf', 'root');
    const side = await leaf.query(
      `select ev_type, ev_data, ev_extra1, ev_time from pgq.event_all e join pgq.queue q on q.queue_id = e.ev_queue
        where q.queue_name = 'side' order by ev_id`,
    );
    expect(side.rows.map((e) => [e.ev_type, e.ev_data, e.ev_extra1])).toEqual([
      ['I:id', 'id=1&v=x', 'public.sp'],
      ['I:id', 'id=2&v=y', 'public.sp'],
      ['U:id', 'id=2&v=z', 'public.sp'],
      ['D:id', 'id=1&v=x', 'public.sp'],
    ]);
    // the events keep their time from the root
    const times = await root.query(
      "select ev_time from pgq.event_all where ev_extra1 = 'public.sp' order by ev_id",
    );
    expect(side.rows.map((e) => e.ev_time)).toEqual(times.rows.map((e) => e.ev_time));
    // the virtual tables do not exist on the leaf, and nothing failed
    expect((await leaf.query("select to_regclass('public.vt') as t")).rows[0].t).toBeNull();
    const err = await leaf.query('select cur_error from pgq_node.local_state where consumer_name = $1', [
      'w_leaf',
    ]);
    expect(err.rows[0].cur_error).toBeNull();
  }, 120_000);

  it('qsplitter needs queue=', () => {
    expect(() => buildHandler('public.sp', 'qsplitter')).toThrow(/specify queue/);
  });
});
