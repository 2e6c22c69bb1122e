// A table's own logutriga (pgq._trigger_rowfn → pgq._tgrow_<relid>): the same arguments and
// events as pgq.logutriga at one PL/pgSQL call per event. Plain triggers get the security-definer
// form (the row encoded and inserted in the trigger), triggers with options the invoker form
// (the encoder's statements in the trigger); both must follow the table through DDL and new
// sessions, keep logutriga's errors, and the definer form must not be reachable through the
// caller's search_path.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase, withRole } from '../support/db.ts';
import { pgError } from '../support/pgq.ts';

const db = useTestDatabase();
const suffix = randomBytes(3).toString('hex');
const writer = `rfw_${suffix}`;
const nobody = `rfn_${suffix}`;

/** Creates trigger `name` on `table` with the table's own logutriga and these arguments. */
async function ownTrigger(table: string, args: string, name = 'tl', events = 'insert or update or delete') {
  const fn = (await db.query<{ fn: string }>('select pgq._trigger_rowfn($1::regclass) as fn', [table]))
    .rows[0]?.fn;
  await db.query(
    `create trigger ${name} after ${events} on ${table} for each row execute procedure ${fn}(${args})`,
  );
  // its code at once, as londiste.create_trigger does
  await db.query('select pgq._trigger_prepare($1::regclass)', [table]);
  return fn;
}

/** Events of queue rq since the last call (then removed), oldest first. */
async function takeEvents() {
  const r = await db.query(
    `select ev_type, ev_data, ev_extra1, ev_extra2 from pgq.event_all e join pgq.queue q on q.queue_id = e.ev_queue
      where q.queue_name = 'rq' order by ev_id`,
  );
  await db.query(
    `delete from pgq.event_all where ev_queue = (select queue_id from pgq.queue where queue_name = 'rq')`,
  );
  return r.rows;
}

/** Whether the table's own logutriga is in its security-definer form. */
async function definerForm(table: string) {
  const r = await db.query<{ d: boolean }>(
    `select prosecdef as d from pg_proc where oid = to_regprocedure('pgq._tgrow_' || $1::regclass::oid || '()')`,
    [table],
  );
  return r.rows[0]?.d;
}

beforeAll(async () => {
  await db.query("select pgq.create_queue('rq')");
});

describe("a table's own logutriga", () => {
  it("writes pgq.logutriga's events, in the definer form for a plain trigger", async () => {
    await db.query('create table rf_a (id int8 primary key, v text, n int, ts timestamptz)');
    await db.query('create table rf_b (id int8 primary key, v text, n int, ts timestamptz)');
    await ownTrigger('rf_a', "'rq'");
    await db.query(
      "create trigger tl after insert or update or delete on rf_b for each row execute procedure pgq.logutriga('rq')",
    );
    for (const t of ['rf_a', 'rf_b']) {
      await db.query(`insert into ${t} values (1, 'a b&c', 1, '2024-01-02 03:04:05+00'), (2, null, 2, null)`);
      await db.query(`update ${t} set v = E'ü \\x01', n = n + 1`);
      await db.query(`delete from ${t} where id = 2`);
    }
    const ev = await takeEvents();
    const ours = ev.filter((e) => e.ev_extra1 === 'public.rf_a');
    const generic = ev.filter((e) => e.ev_extra1 === 'public.rf_b');
    expect(ours.length).toBe(5);
    expect(ours.map((e) => ({ ...e, ev_extra1: 'public.rf_b' }))).toEqual(generic);
    expect(ours[0]).toEqual({
      ev_type: 'I:id',
      ev_data: 'id=1&v=a+b%26c&n=1&ts=2024-01-02+03%3a04%3a05%2b00',
      ev_extra1: 'public.rf_a',
      ev_extra2: null,
    });
    expect(await definerForm('rf_a')).toBe(true);
    // logutriga's errors, word for word
    const mine = await pgError(db.query('update rf_a set id = 9 where id = 1'));
    const theirs = await pgError(db.query('update rf_b set id = 9 where id = 1'));
    expect({ m: mine.message, c: mine.code }).toEqual({ m: theirs.message, c: theirs.code });
    expect(mine.message).toBe('primary key update not allowed');
  });

  it('takes the invoker form for options, and follows the trigger when its arguments change', async () => {
    await db.query('create table rf_o (id int primary key, a text, b int)');
    await ownTrigger('rf_o', "'rq', 'backup', 'ignore=b'");
    await db.query("insert into rf_o values (1, 'x', 1)");
    await db.query('update rf_o set b = 2');
    await db.query("update rf_o set a = 'y'");
    expect(await takeEvents()).toEqual([
      { ev_type: 'I:id', ev_data: 'id=1&a=x', ev_extra1: 'public.rf_o', ev_extra2: null },
      { ev_type: 'U:id', ev_data: 'id=1&a=y', ev_extra1: 'public.rf_o', ev_extra2: 'id=1&a=x' },
    ]);
    expect(await definerForm('rf_o')).toBe(false);
    // the same function, plain arguments now: the definer form
    const fn = (await db.query("select pgq._trigger_rowfn('rf_o'::regclass) as fn")).rows[0].fn;
    await db.query(
      `create or replace trigger tl after insert or update or delete on rf_o for each row execute procedure ${fn}('rq')`,
    );
    await db.query('update rf_o set b = 3');
    expect(await takeEvents()).toEqual([
      { ev_type: 'U:id', ev_data: 'id=1&a=y&b=3', ev_extra1: 'public.rf_o', ev_extra2: null },
    ]);
    expect(await definerForm('rf_o')).toBe(true);
  });

  it('follows DDL: a new column, a renamed table, in this session and in others', async () => {
    await db.query('create table rf_d (id int primary key, a text)');
    await ownTrigger('rf_d', "'rq'");
    const other = await db.pool.connect();
    try {
      await other.query("insert into rf_d values (1, 'x')");
      await db.query('alter table rf_d add column c int default 7');
      await other.query("insert into rf_d values (2, 'y')");
      await db.query("insert into rf_d values (3, 'z')");
      await db.query('alter table rf_d drop column a');
      await other.query('update rf_d set c = 8 where id = 1');
      await db.query('alter table rf_d rename to rf_d2');
      await other.query('delete from rf_d2 where id = 2');
      expect(await takeEvents()).toEqual([
        { ev_type: 'I:id', ev_data: 'id=1&a=x', ev_extra1: 'public.rf_d', ev_extra2: null },
        { ev_type: 'I:id', ev_data: 'id=2&a=y&c=7', ev_extra1: 'public.rf_d', ev_extra2: null },
        { ev_type: 'I:id', ev_data: 'id=3&a=z&c=7', ev_extra1: 'public.rf_d', ev_extra2: null },
        { ev_type: 'U:id', ev_data: 'id=1&c=8', ev_extra1: 'public.rf_d', ev_extra2: null },
        { ev_type: 'D:id', ev_data: 'id=2&c=7', ev_extra1: 'public.rf_d2', ev_extra2: null },
      ]);
    } finally {
      other.release();
    }
  });

  it('follows the queue: rotation to another table, and a queue dropped and made again', async () => {
    await db.query('create table rf_q (id int primary key)');
    await ownTrigger('rf_q', "'rq'");
    await db.query('insert into rf_q values (1)');
    await db.query("update pgq.queue set queue_cur_table = 2 where queue_name = 'rq'");
    await db.query('insert into rf_q values (2)');
    await db.query("update pgq.queue set queue_cur_table = 0 where queue_name = 'rq'");
    const r = await db.query(
      `select ev_data, ev_table from pgq.event_all e join pgq.queue q on q.queue_id = e.ev_queue
        where q.queue_name = 'rq' and ev_extra1 = 'public.rf_q' order by ev_id`,
    );
    expect(r.rows).toEqual([
      { ev_data: 'id=1', ev_table: 0 },
      { ev_data: 'id=2', ev_table: 2 },
    ]);
    await takeEvents();
    await db.query("select pgq.drop_queue('rq', true)");
    await db.query("select pgq.create_queue('rq')");
    await db.query('insert into rf_q values (3)');
    expect(await takeEvents()).toEqual([
      { ev_type: 'I:id', ev_data: 'id=3', ev_extra1: 'public.rf_q', ev_extra2: null },
    ]);
    await db.query("update pgq.queue set queue_disable_insert = true where queue_name = 'rq'");
    expect((await pgError(db.query('insert into rf_q values (4)'))).code).toBe('PQ004');
    await db.query("update pgq.queue set queue_disable_insert = false where queue_name = 'rq'");
  });

  it('does nothing under session_replication_role local, and fires only on its own table', async () => {
    await db.query('create table rf_l (id int primary key)');
    const fn = await ownTrigger('rf_l', "'rq'");
    const c = await db.pool.connect();
    try {
      await c.query("set session_replication_role = 'local'");
      await c.query('insert into rf_l values (1)');
      await c.query('update rf_l set id = 2');
      await c.query('reset session_replication_role');
    } finally {
      c.release();
    }
    expect(await takeEvents()).toEqual([]);
    await db.query('create table rf_other (id int primary key)');
    await db.query(`create trigger tl after insert on rf_other for each row execute procedure ${fn}('rq')`);
    expect((await pgError(db.query('insert into rf_other values (1)'))).code).toBe('PQ020');
    expect(await takeEvents()).toEqual([]);
  });

  it("keeps the caller's search_path away from the definer form (a schema of its own ||, =, <>, left)", async () => {
    await db.query('create table rf_s (id int primary key, v text)');
    await ownTrigger('rf_s', "'rq'");
    await db.query("insert into rf_s values (1, 'a')");
    expect(await definerForm('rf_s')).toBe(true);
    const c = await db.pool.connect();
    try {
      await c.query('create schema rf_evil');
      await c.query('create table rf_evil.calls (f text)');
      await c.query('grant all on schema rf_evil to public');
      await c.query('grant all on rf_evil.calls to public');
      for (const [op, l, r, fn] of [
        ['||', 'text', 'text', 'cat'],
        ['=', 'text', 'text', 'eq'],
        ['<>', 'int4', 'int4', 'ne'],
      ]) {
        await c.query(
          `create function rf_evil.${fn}(${l}, ${r}) returns ${fn === 'cat' ? 'text' : 'boolean'} language plpgsql
             as $$ begin insert into rf_evil.calls values (current_user || ' ${fn}'); return null; end $$`,
        );
        await c.query(
          `create operator rf_evil.${op} (leftarg = ${l}, rightarg = ${r}, function = rf_evil.${fn})`,
        );
      }
      await c.query(
        "create function rf_evil.left(text, int) returns text language plpgsql as $$ begin insert into rf_evil.calls values ('left'); return 'X'; end $$",
      );
      await c.query('set search_path = rf_evil, pg_catalog, public');
      await c.query("insert into rf_s values (2, 'b c')");
      await c.query("update rf_s set v = 'd' where id = 2");
      await c.query('reset search_path');
      expect((await c.query('select count(*)::int as n from rf_evil.calls')).rows[0].n).toBe(0);
    } finally {
      await c.query('reset search_path');
      c.release();
    }
    expect(await takeEvents()).toEqual([
      { ev_type: 'I:id', ev_data: 'id=1&v=a', ev_extra1: 'public.rf_s', ev_extra2: null },
      { ev_type: 'I:id', ev_data: 'id=2&v=b+c', ev_extra1: 'public.rf_s', ev_extra2: null },
      { ev_type: 'U:id', ev_data: 'id=2&v=d', ev_extra1: 'public.rf_s', ev_extra2: null },
    ]);
  });

  it("lets a table's writers make its events in the definer form; the invoker form wants pgq.insert_event's right", async () => {
    await db.query(`create role ${writer} login password 'pw'`);
    await db.query(`create role ${nobody} login password 'pw'`);
    await db.query(`grant pgq_writer to ${writer}`);
    await db.query('create table rf_p (id int primary key)');
    await db.query('create table rf_po (id int primary key, v text)');
    await db.query(`grant all on rf_p, rf_po to ${writer}, ${nobody}`);
    await ownTrigger('rf_p', "'rq'");
    await ownTrigger('rf_po', "'rq', 'backup'");
    await withRole(db.url, nobody, (c) => c.query('insert into rf_p values (1)'));
    await withRole(db.url, writer, (c) => c.query("insert into rf_po values (1, 'w')"));
    expect(
      (await pgError(withRole(db.url, nobody, (c) => c.query("insert into rf_po values (2, 'n')")))).message,
    ).toMatch(/permission denied/);
    expect(await takeEvents()).toEqual([
      { ev_type: 'I:id', ev_data: 'id=1', ev_extra1: 'public.rf_p', ev_extra2: null },
      { ev_type: 'I:id', ev_data: 'id=1&v=w', ev_extra1: 'public.rf_po', ev_extra2: null },
    ]);
    // the functions carry pgq.logutriga's EXECUTE privileges; the definer form's twin nobody's
    const acl = await db.query(
      `select (select proacl::text from pg_proc where oid = 'pgq.logutriga()'::regprocedure) as lt,
              (select proacl::text from pg_proc where oid = ('pgq._tgrow_' || 'rf_p'::regclass::oid || '()')::regprocedure) as own,
              has_function_privilege($1, ('pgq._tgrowx_' || 'rf_p'::regclass::oid || '(text,text,record,record)')::regprocedure, 'execute') as twin`,
      [nobody],
    );
    expect(acl.rows[0]).toEqual({ lt: acl.rows[0].lt, own: acl.rows[0].lt, twin: false });
  });

  it('is dropped with its table', async () => {
    await db.query('create table rf_x (id int primary key)');
    await ownTrigger('rf_x', "'rq'");
    await db.query('insert into rf_x values (1)');
    const oid = (await db.query("select 'rf_x'::regclass::oid as o")).rows[0].o;
    await db.query('drop table rf_x');
    // the next table to get an encoder regenerates the dispatcher, which forgets dropped tables
    await db.query('create table rf_y (id int primary key)');
    await ownTrigger('rf_y', "'rq'");
    await db.query('insert into rf_y values (1)');
    const r = await db.query(
      `select count(*)::int as n from pg_proc where proname in ('_tgrow_${oid}', '_tgrowx_${oid}', '_tgenc_${oid}')`,
    );
    expect(r.rows[0].n).toBe(0);
    await takeEvents();
  });
});
