// The generated per-queue insert (pgq._trigger_queue_insert → pgq._queue_insert_<id>): the
// encoders insert straight into the queue's current child table instead of through
// pgq.event_all's partition routing. Readers must see the same events, every check of
// pgq.insert_event must still hold, only pgq.insert_event's users may fire the triggers, and
// the caller's search_path must not reach the security-definer code.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase, withRole } from '../support/db.ts';
import { pgError } from '../support/pgq.ts';

const db = useTestDatabase();
const suffix = randomBytes(3).toString('hex');
const writer = `qiw_${suffix}`;
const nobody = `qin_${suffix}`;

const as = (role: string, sql: string) => withRole(db.url, role, (c) => c.query(sql));

async function queueId(name: string): Promise<number> {
  const r = await db.query<{ id: number }>('select queue_id as id from pgq.queue where queue_name = $1', [
    name,
  ]);
  const row = r.rows[0];
  if (!row) throw new Error(`no queue ${name}`);
  return row.id;
}

beforeAll(async () => {
  await db.query("select pgq.create_queue('qi')");
  await db.query('create table qi_t (id int primary key, v text)');
  await db.query(
    "create trigger t after insert or update or delete on qi_t for each row execute procedure pgq.logutriga('qi')",
  );
});

describe('per-queue insert of the encoders', () => {
  it('puts events into the current child table, following queue_cur_table', async () => {
    const id = await queueId('qi');
    await db.query("insert into qi_t values (1, 'a')");
    expect(
      (
        await db.query(
          `select to_regprocedure('pgq._queue_insert_${id}(text,text,text,text,text,text,text)') is not null as ok`,
        )
      ).rows[0].ok,
    ).toBe(true);
    // a rotation, as far as a producer can tell: another current table
    await db.query("update pgq.queue set queue_cur_table = 2 where queue_name = 'qi'");
    await db.query("update qi_t set v = 'b' where id = 1");
    await db.query("update pgq.queue set queue_cur_table = 0 where queue_name = 'qi'");
    const r = await db.query(
      `select ev_type, ev_data, ev_extra1, ev_table, tableoid::regclass::text as tbl, ev_txid > 0 as txid,
              ev_time <= now() as t from pgq.event_all where ev_queue = $1 order by ev_id`,
      [id],
    );
    expect(r.rows).toEqual([
      {
        ev_type: 'I:id',
        ev_data: 'id=1&v=a',
        ev_extra1: 'public.qi_t',
        ev_table: 0,
        tbl: `pgq.event_${id}_0`,
        txid: true,
        t: true,
      },
      {
        ev_type: 'U:id',
        ev_data: 'id=1&v=b',
        ev_extra1: 'public.qi_t',
        ev_table: 2,
        tbl: `pgq.event_${id}_2`,
        txid: true,
        t: true,
      },
    ]);
    // what the original's tools read
    expect((await db.query(`select count(*)::int as n from pgq.event_${id}`)).rows[0].n).toBe(2);
  });

  it('keeps the checks of pgq.insert_event: insert disabled, per-transaction limit', async () => {
    await db.query("update pgq.queue set queue_disable_insert = true where queue_name = 'qi'");
    expect((await pgError(db.query("insert into qi_t values (2, 'x')"))).code).toBe('PQ004');
    await db.query(
      "update pgq.queue set queue_disable_insert = false, queue_per_tx_limit = 1 where queue_name = 'qi'",
    );
    expect((await pgError(db.query("insert into qi_t values (2, 'x'), (3, 'y')"))).code).toBe('PQ005');
    await db.query("insert into qi_t values (2, 'x')");
    await db.query("update pgq.queue set queue_per_tx_limit = null where queue_name = 'qi'");
    expect((await db.query('select count(*)::int as n from qi_t')).rows[0].n).toBe(2);
  });

  it('a queue dropped and created again (another id) still gets the events', async () => {
    const old = await queueId('qi');
    await db.query("select pgq.drop_queue('qi', true)");
    await db.query("select pgq.create_queue('qi')");
    const id = await queueId('qi');
    expect(id).not.toBe(old);
    await db.query("insert into qi_t values (10, 'new')");
    const r = await db.query('select ev_type, ev_data from pgq.event_all where ev_queue = $1', [id]);
    expect(r.rows).toEqual([{ ev_type: 'I:id', ev_data: 'id=10&v=new' }]);
    // a queue that is gone is an error, as with pgq.insert_event
    await db.query("select pgq.drop_queue('qi', true)");
    expect((await pgError(db.query("insert into qi_t values (11, 'gone')"))).code).toBe('PQ001');
    await db.query("select pgq.create_queue('qi')");
  });

  it('is dropped with its queue once no encoder calls it, not before', async () => {
    const exists = async (id: number) =>
      (
        await db.query(
          `select to_regprocedure('pgq._queue_insert_${id}(text,text,text,text,text,text,text)') is not null as ok`,
        )
      ).rows[0].ok;
    await db.query("select pgq.create_queue('qs1'), pgq.create_queue('qs2')");
    await db.query('create table qs_t (id int primary key, v text)');
    await db.query(
      "create trigger t after insert on qs_t for each row execute procedure pgq.logutriga('qs1')",
    );
    await db.query("insert into qs_t values (1, 'a')");
    const one = await queueId('qs1');
    const two = await queueId('qs2');
    expect(await exists(one)).toBe(true);
    // Dropped while the table's encoder still calls it: kept (the encoder falls back through it).
    await db.query("select pgq.drop_queue('qs1')");
    expect(await exists(one)).toBe(true);
    // The trigger moves to another queue: the regenerated encoder no longer calls it, so it goes.
    await db.query('drop trigger t on qs_t');
    await db.query(
      "create trigger t after insert on qs_t for each row execute procedure pgq.logutriga('qs2')",
    );
    await db.query("insert into qs_t values (2, 'b')");
    expect(await exists(two)).toBe(true);
    expect(await exists(one)).toBe(false);
    // No encoder calls it any more: drop_queue takes it at once.
    await db.query('drop trigger t on qs_t');
    await db.query(
      "create trigger t after insert on qs_t for each row execute procedure pgq.logutriga('qi')",
    );
    await db.query("insert into qs_t values (3, 'c')");
    expect(await exists(two)).toBe(true); // its queue still exists
    await db.query("select pgq.drop_queue('qs2')");
    expect(await exists(two)).toBe(false);
    const r = await db.query(
      "select ev_data from pgq.event_all e join pgq.queue q on q.queue_id = e.ev_queue where q.queue_name = 'qi' and ev_extra1 = 'public.qs_t'",
    );
    expect(r.rows).toEqual([{ ev_data: 'id=3&v=c' }]);
    await db.query('drop table qs_t');
  });

  it("carries pgq.insert_event's privileges: a pgq_writer fires the trigger, a role without may not", async () => {
    await db.query(`create role ${writer} login password 'pw'`);
    await db.query(`create role ${nobody} login password 'pw'`);
    await db.query(`grant pgq_writer to ${writer}`);
    await db.query(`grant all on qi_t to ${writer}, ${nobody}`);
    // a new encoder for a new table on the (re-created) queue makes its insert function
    await db.query('create table qi_p (id int primary key)');
    await db.query(`grant all on qi_p to ${writer}, ${nobody}`);
    await db.query(
      "create trigger t after insert on qi_p for each row execute procedure pgq.logutriga('qi')",
    );
    await as(writer, 'insert into qi_p values (1)');
    expect((await pgError(as(nobody, 'insert into qi_p values (2)'))).message).toMatch(/permission denied/);
    const id = await queueId('qi');
    const acl = await db.query(
      `select (select proacl from pg_proc where oid = 'pgq.insert_event(text,text,text,text,text,text,text)'::regprocedure)::text as ie,
              (select proacl from pg_proc where oid = 'pgq._queue_insert_${id}(text,text,text,text,text,text,text)'::regprocedure)::text as qi`,
    );
    expect(acl.rows[0].qi).toBe(acl.rows[0].ie);
    expect((await db.query('select count(*)::int as n from qi_p')).rows[0].n).toBe(1);
  });

  it("is immune to the caller's search_path (a schema of its own =, now(), txid_current(), event tables)", async () => {
    const id = await queueId('qi');
    const c = await db.pool.connect();
    try {
      await c.query('create schema qi_evil');
      await c.query(
        "create function qi_evil.now() returns timestamptz language sql as $$ select '2000-01-01'::timestamptz $$",
      );
      await c.query(
        'create function qi_evil.txid_current() returns bigint language sql as $$ select 42::bigint $$',
      );
      await c.query(
        'create function qi_evil.eq(int4, int4) returns boolean language sql as $$ select false $$',
      );
      await c.query('create operator qi_evil.= (leftarg = int4, rightarg = int4, function = qi_evil.eq)');
      await c.query(`create table qi_evil.event_${id}_0 (like pgq.event_all)`);
      await c.query(`create sequence qi_evil.event_${id}_id_seq start 1000000`);
      await c.query('set search_path = qi_evil, pg_catalog, public');
      // qi_p's encoder was made for the queue as it is now: it calls the queue's own insert
      await c.query('insert into qi_p values (20)');
      await c.query('reset search_path');
      const r = await c.query(
        `select ev_data, ev_time > '2001-01-01' as t, ev_txid <> 42 as x, ev_id < 1000000 as id,
                tableoid::regclass::text as tbl from pgq.event_all where ev_queue = $1 and ev_data = 'id=20'`,
        [id],
      );
      expect(r.rows).toEqual([{ ev_data: 'id=20', t: true, x: true, id: true, tbl: `pgq.event_${id}_0` }]);
      expect((await c.query(`select count(*)::int as n from qi_evil.event_${id}_0`)).rows[0].n).toBe(0);
    } finally {
      await c.query('reset search_path');
      c.release();
    }
  });
});
