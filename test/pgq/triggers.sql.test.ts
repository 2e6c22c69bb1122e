// Behaviour of pgq.logutriga / pgq.sqltriga / pgq.jsontriga (PL/pgSQL): event formats, every
// trigger option, errors (which insert nothing), and regeneration of the per-table encoder
// after schema changes. Byte-for-byte equality with the C triggers is in
// test/pgq/triggers-vs-c.compat.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();

interface Ev {
  ev_type: string | null;
  ev_data: string | null;
  ev_extra1: string | null;
  ev_extra2: string | null;
  ev_extra3: string | null;
  ev_extra4: string | null;
}

/** Runs statements in one transaction on one connection and returns the events they produced. */
async function eventsOf(...sql: string[]): Promise<Ev[]> {
  const c = await db.pool.connect();
  try {
    await c.query('begin');
    const before = (await c.query('select coalesce(max(ev_id), 0) as m from pgq.event_all')).rows[0].m;
    for (const s of sql) await c.query(s);
    const r = await c.query<Ev>(
      `select ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4 from pgq.event_all
        where ev_id > $1 order by ev_id`,
      [before],
    );
    await c.query('commit');
    return r.rows;
  } catch (err) {
    await c.query('rollback');
    throw err;
  } finally {
    c.release();
  }
}

async function errorOf(...sql: string[]): Promise<{ code?: string; message: string }> {
  const err = await eventsOf(...sql).then(
    () => null,
    (e: unknown) => e as { code?: string; message: string },
  );
  if (!err) throw new Error('expected an error');
  return err;
}

beforeAll(async () => {
  await db.query("select pgq.create_queue('tq')");
  await db.query('create schema app');
});

describe('logutriga', () => {
  it('urlencodes the row and names the primary key in ev_type', async () => {
    await db.query('create table app.lu (id int primary key, name text, note text, n numeric)');
    await db.query(
      "create trigger t after insert or update or delete on app.lu for each row execute procedure pgq.logutriga('tq')",
    );
    const evs = await eventsOf(
      "insert into app.lu values (1, 'a b&c=d%e+f', null, 1.5)",
      "update app.lu set note = 'ü' where id = 1",
      'delete from app.lu where id = 1',
    );
    expect(evs).toEqual([
      {
        ev_type: 'I:id',
        ev_data: 'id=1&name=a+b%26c%3dd%25e%2bf&note&n=1.5',
        ev_extra1: 'app.lu',
        ev_extra2: null,
        ev_extra3: null,
        ev_extra4: null,
      },
      {
        ev_type: 'U:id',
        ev_data: 'id=1&name=a+b%26c%3dd%25e%2bf&note=%c3%bc&n=1.5',
        ev_extra1: 'app.lu',
        ev_extra2: null,
        ev_extra3: null,
        ev_extra4: null,
      },
      {
        ev_type: 'D:id',
        ev_data: 'id=1&name=a+b%26c%3dd%25e%2bf&note=%c3%bc&n=1.5',
        ev_extra1: 'app.lu',
        ev_extra2: null,
        ev_extra3: null,
        ev_extra4: null,
      },
    ]);
  });

  it('puts the old row in ev_extra2 with backup, on UPDATE only', async () => {
    await db.query('create table app.bk (id int primary key, a text)');
    await db.query(
      "create trigger t after insert or update on app.bk for each row execute procedure pgq.logutriga('tq', 'backup')",
    );
    const evs = await eventsOf("insert into app.bk values (1, 'x')", "update app.bk set a = 'y'");
    expect(evs.map((e) => e.ev_extra2)).toEqual([null, 'id=1&a=x']);
  });

  it('leaves ignored columns out and skips updates that change only them', async () => {
    await db.query('create table app.ig (id int primary key, a text, b text)');
    await db.query(
      "create trigger t after insert or update on app.ig for each row execute procedure pgq.logutriga('tq', 'ignore=b')",
    );
    const evs = await eventsOf(
      "insert into app.ig values (1, 'x', 'y')",
      "update app.ig set b = 'z'",
      "update app.ig set a = 'q'",
    );
    expect(evs.map((e) => e.ev_data)).toEqual(['id=1&a=x', 'id=1&a=q']);
  });

  it('uses pkey= instead of the primary key and refuses a change of it', async () => {
    await db.query('create table app.pk (id int, code text, v int)');
    await db.query(
      "create trigger t after insert or update on app.pk for each row execute procedure pgq.logutriga('tq', 'pkey=code')",
    );
    const evs = await eventsOf("insert into app.pk values (1, 'c1', 0)", 'update app.pk set v = 1');
    expect(evs.map((e) => e.ev_type)).toEqual(['I:code', 'U:code']);
    const err = await errorOf("update app.pk set code = 'c2'");
    expect(err.message).toBe('primary key update not allowed');
    expect(err.code).toBe('PQ020');
  });

  it('takes fields from when= and ev_*= expressions and _pgq_ev_* columns', async () => {
    await db.query('create table app.ex (id int primary key, a text, _pgq_ev_extra3 text)');
    await db.query(
      `create trigger t after insert on app.ex for each row execute procedure
         pgq.logutriga('tq', 'when=a <> ''no''', 'ev_type=''custom''', 'ev_extra4=id * 10')`,
    );
    const evs = await eventsOf(
      "insert into app.ex values (1, 'yes', 'three')",
      "insert into app.ex values (2, 'no', null)",
    );
    expect(evs).toEqual([
      {
        ev_type: 'custom',
        ev_data: 'id=1&a=yes',
        ev_extra1: 'app.ex',
        ev_extra2: null,
        ev_extra3: 'three',
        ev_extra4: '10',
      },
    ]);
  });

  it('accepts any SQL expression in ev_*= and when=, dollar quotes included; refuses $n parameters', async () => {
    await db.query('create table app.dq (id int primary key, a text)');
    await db.query(
      `create trigger t after insert on app.dq for each row execute procedure
         pgq.logutriga('tq', 'ev_extra3=$$333$$', 'ev_extra4=$t$<$t$ || upper(a) || E''\\''''', 'when=a <> $$no$$')`,
    );
    const evs = await eventsOf("insert into app.dq values (1, 'yes')", "insert into app.dq values (2, 'no')");
    expect(evs).toMatchObject([{ ev_data: 'id=1&a=yes', ev_extra3: '333', ev_extra4: "<YES'" }]);
    await db.query('create table app.dq2 (id int primary key)');
    await db.query(
      `create trigger t after insert on app.dq2 for each row execute procedure pgq.logutriga('tq', 'ev_extra3=$1')`,
    );
    await expect(db.query('insert into app.dq2 values (1)')).rejects.toMatchObject({
      code: '42P02',
      message: 'there is no parameter $1',
    });
  });

  it('with SKIP in a BEFORE trigger logs the change but does not apply it', async () => {
    await db.query('create table app.sk (id int primary key)');
    await db.query(
      "create trigger t before insert on app.sk for each row execute procedure pgq.logutriga('tq', 'SKIP')",
    );
    const evs = await eventsOf('insert into app.sk values (1)');
    expect(evs.map((e) => e.ev_data)).toEqual(['id=1']);
    expect((await db.one('select count(*)::int as n from app.sk')).n).toBe(0);
  });

  it('logs TRUNCATE from a statement trigger', async () => {
    await db.query('create table app.tr (id int primary key)');
    await db.query(
      "create trigger t after truncate on app.tr for each statement execute procedure pgq.logutriga('tq')",
    );
    const evs = await eventsOf('truncate app.tr');
    expect(evs).toEqual([
      { ev_type: 'R', ev_data: '', ev_extra1: 'app.tr', ev_extra2: null, ev_extra3: null, ev_extra4: null },
    ]);
  });

  it('does nothing when session_replication_role is local', async () => {
    await db.query('create table app.rr (id int primary key)');
    await db.query(
      "create trigger t after insert on app.rr for each row execute procedure pgq.logutriga('tq')",
    );
    const evs = await eventsOf('set local session_replication_role = local', 'insert into app.rr values (1)');
    expect(evs).toEqual([]);
  });
});

describe('sqltriga', () => {
  it('writes partial SQL for insert, update and delete', async () => {
    await db.query('create table app.sq (id int, k text, "Val" text, primary key (id, k))');
    await db.query(
      "create trigger t after insert or update or delete on app.sq for each row execute procedure pgq.sqltriga('tq')",
    );
    const evs = await eventsOf(
      `insert into app.sq values (1, 'a', E'it''s \\\\ here')`,
      `update app.sq set "Val" = null`,
      'update app.sq set "Val" = "Val"',
      'delete from app.sq',
    );
    expect(evs.map((e) => [e.ev_type, e.ev_data])).toEqual([
      ['I', `(id,k,"Val") values ('1','a',E'it''s \\\\ here')`],
      ['U', `"Val"=NULL where id='1' and k='a'`],
      ['U', `id='1' where id='1' and k='a'`],
      ['D', `id='1' and k='a'`],
    ]);
  });
});

describe('jsontriga', () => {
  it('encodes the row as JSON with typed booleans, integers and timestamps', async () => {
    await db.query(
      'create table app.js (id int8 primary key, ok boolean, n numeric, d date, ts timestamp, arr int[], t text)',
    );
    await db.query(
      "create trigger t after insert on app.js for each row execute procedure pgq.jsontriga('tq')",
    );
    const evs = await eventsOf(
      `insert into app.js values (1, true, 2.50, '2024-01-02', '2024-01-02 03:04:05', '{1,2}', E'"q"\\n')`,
    );
    expect(evs[0]?.ev_type).toBe('{"op":"INSERT","table":["app","js"],"pkey":["id"]}');
    expect(evs[0]?.ev_data).toBe(
      '{"id":1,"ok":true,"n":"2.50","d":"2024-01-02","ts":"2024-01-02T03:04:05","arr":"{1,2}","t":"\\"q\\"\\n"}',
    );
  });

  it('follows schema changes made after the first event', async () => {
    await db.query('create table app.ddl (id int primary key, a text)');
    await db.query(
      "create trigger t after insert on app.ddl for each row execute procedure pgq.jsontriga('tq')",
    );
    const first = await eventsOf("insert into app.ddl values (1, 'x')");
    await db.query('alter table app.ddl add column b int');
    const second = await eventsOf("insert into app.ddl values (2, 'y', 3)");
    expect([first[0]?.ev_data, second[0]?.ev_data]).toEqual(['{"id":1,"a":"x"}', '{"id":2,"a":"y","b":3}']);
  });
});

describe('the encoder stays right', () => {
  it('follows schema changes made in the same transaction, after the trigger fired', async () => {
    await db.query('create table app.ddltx (id int primary key, a text)');
    await db.query(
      "create trigger t after insert on app.ddltx for each row execute procedure pgq.logutriga('tq')",
    );
    const evs = await eventsOf(
      "insert into app.ddltx values (1, 'x')",
      'alter table app.ddltx add column b int default 7',
      "insert into app.ddltx values (2, 'y')",
      'alter table app.ddltx rename column a to aa',
      "insert into app.ddltx values (3, 'z')",
    );
    expect(evs.map((e) => e.ev_data)).toEqual(['id=1&a=x', 'id=2&a=y&b=7', 'id=3&aa=z&b=7']);
  });

  it('a re-install regenerates every encoder at once, so an older one is never called again', async () => {
    await db.query('create table app.reinst (id int primary key, a text)');
    await db.query(
      "create trigger t after insert on app.reinst for each row execute procedure pgq.logutriga('tq')",
    );
    expect((await eventsOf("insert into app.reinst values (1, 'x')")).map((e) => e.ev_data)).toEqual([
      'id=1&a=x',
    ]);
    // An encoder as an older version may have left it: no token check, no event.
    const fn = (
      await db.one<{ fn: string }>(
        "select fn_name as fn from pgq._trigger_state where relid = 'app.reinst'::regclass",
      )
    ).fn;
    await db.query(
      `create or replace function ${fn}(text, text, record, record) returns text[] language plpgsql
         as $$ begin return array[null, null, null, null, null, null, 'y', null]::text[]; end $$`,
    );
    expect(await eventsOf("insert into app.reinst values (2, 'y')")).toEqual([]);
    const c = await db.pool.connect();
    try {
      await install(c);
    } finally {
      c.release();
    }
    expect((await eventsOf("insert into app.reinst values (3, 'z')")).map((e) => e.ev_data)).toEqual([
      'id=3&a=z',
    ]);
  });

  it('dispatches to the right encoder among many tables, one created in the same transaction', async () => {
    for (let i = 1; i <= 12; i++) {
      await db.query(`create table app.many${i} (id int primary key, v${i} text)`);
      await db.query(
        `create trigger t after insert on app.many${i} for each row execute procedure pgq.logutriga('tq')`,
      );
      await eventsOf(`insert into app.many${i} values (0, 'warm')`);
    }
    // more than two tables: the dispatcher is the PL/pgSQL tree of IFs
    const lang = await db.one<{ lang: string }>(
      "select l.lanname as lang from pg_proc p join pg_language l on l.oid = p.prolang where p.oid = 'pgq._trigger_encode(oid, text, text, anyelement, anyelement)'::regprocedure",
    );
    expect(lang.lang).toBe('plpgsql');
    const evs = await eventsOf(
      "insert into app.many7 values (1, 'a')",
      "insert into app.many12 values (1, 'b')",
      'create table app.many13 (id int primary key, v13 text)',
      "create trigger t after insert on app.many13 for each row execute procedure pgq.logutriga('tq')",
      "insert into app.many13 values (1, 'c')",
      "insert into app.many1 values (1, 'd')",
    );
    expect(evs.map((e) => [e.ev_extra1, e.ev_data])).toEqual([
      ['app.many7', 'id=1&v7=a'],
      ['app.many12', 'id=1&v12=b'],
      ['app.many13', 'id=1&v13=c'],
      ['app.many1', 'id=1&v1=d'],
    ]);
  });

  it('encodes text with special characters through the non-inlined ASCII encoder, as C does', async () => {
    await db.query('create table app.spec (id int primary key, a text, j json, arr int[])');
    await db.query(
      "create trigger t after insert on app.spec for each row execute procedure pgq.logutriga('tq')",
    );
    const evs = await eventsOf(
      `insert into app.spec values (1, 'a b&c=d%e+f/g:h', '{"k": [1, 2]}', '{1,2}'), (2, 'plain text', null, null)`,
    );
    expect(evs.map((e) => e.ev_data)).toEqual([
      'id=1&a=a+b%26c%3dd%25e%2bf%2fg%3ah&j=%7b%22k%22%3a+%5b1%2c+2%5d%7d&arr=%7b1%2c2%7d',
      'id=2&a=plain+text&j&arr',
    ]);
  });
});

describe('errors insert nothing', () => {
  it('rejects an unknown argument', async () => {
    await db.query('create table app.e1 (id int primary key)');
    await db.query(
      "create trigger t after insert on app.e1 for each row execute procedure pgq.logutriga('tq', 'bogus')",
    );
    const err = await errorOf('insert into app.e1 values (1)');
    expect([err.code, err.message]).toEqual(['PQ020', 'bad param to pgq trigger']);
  });

  it('rejects UPDATE and DELETE on a table without primary key', async () => {
    await db.query('create table app.e2 (id int)');
    await db.query(
      "create trigger t after insert or update on app.e2 for each row execute procedure pgq.jsontriga('tq')",
    );
    expect((await eventsOf('insert into app.e2 values (1)')).length).toBe(1);
    const err = await errorOf('update app.e2 set id = 2');
    expect(err.message).toBe('Update/Delete on table without pkey');
  });

  it('rejects changes with deny, SKIP on an AFTER trigger and a non-boolean when=', async () => {
    await db.query('create table app.e3 (id int primary key)');
    await db.query(
      "create trigger t after insert on app.e3 for each row execute procedure pgq.sqltriga('tq', 'deny')",
    );
    expect((await errorOf('insert into app.e3 values (1)')).message).toBe(
      "Table 'app.e3' to queue 'tq': change not allowed (INSERT)",
    );
    await db.query('drop trigger t on app.e3');
    await db.query(
      "create trigger t after insert on app.e3 for each row execute procedure pgq.sqltriga('tq', 'SKIP')",
    );
    expect((await errorOf('insert into app.e3 values (1)')).message).toBe(
      'SKIP does not work in AFTER trigger.',
    );
    await db.query('drop trigger t on app.e3');
    await db.query(
      "create trigger t after insert on app.e3 for each row execute procedure pgq.sqltriga('tq', 'when=id')",
    );
    expect((await errorOf('insert into app.e3 values (1)')).message).toBe(
      'when= query result must be boolean, got=23',
    );
    expect((await db.one("select count(*)::int as n from pgq.event_all where ev_extra1 = 'app.e3'")).n).toBe(
      0,
    );
  });

  it('rejects a FOR EACH STATEMENT insert trigger and ignore= on TRUNCATE', async () => {
    await db.query('create table app.e4 (id int primary key)');
    await db.query(
      "create trigger t after insert on app.e4 for each statement execute procedure pgq.logutriga('tq')",
    );
    expect((await errorOf('insert into app.e4 values (1)')).message).toBe(
      'pgq Ins/Upd/Del trigger must be fired FOR EACH ROW',
    );
    await db.query('drop trigger t on app.e4');
    await db.query(
      "create trigger t after truncate on app.e4 for each statement execute procedure pgq.logutriga('tq', 'ignore=id')",
    );
    expect((await errorOf('truncate app.e4')).message).toBe(
      'Column ignore does not make sense for truncate trigger',
    );
  });

  it("sees another session's DDL in the next transaction of a session that has already fired the trigger", async () => {
    await db.query('create table app.xs (id int primary key, a text)');
    await db.query(
      "create trigger t after insert on app.xs for each row execute procedure pgq.logutriga('tq')",
    );
    const a = await db.pool.connect();
    const b = await db.pool.connect();
    const fire = async (sql: string) => {
      const before = (await a.query('select coalesce(max(ev_id), 0) as m from pgq.event_all')).rows[0].m;
      await a.query(sql);
      return (
        await a.query<{ ev_type: string; ev_data: string; ev_extra1: string }>(
          'select ev_type, ev_data, ev_extra1 from pgq.event_all where ev_id > $1 order by ev_id',
          [before],
        )
      ).rows.map((e) => [e.ev_type, e.ev_data, e.ev_extra1]);
    };
    try {
      const seen = [await fire("insert into app.xs values (1, 'x')")];
      await b.query('alter table app.xs add column b int default 7');
      seen.push(await fire("insert into app.xs values (2, 'y')"));
      await b.query('alter table app.xs rename column a to aa');
      seen.push(await fire("insert into app.xs values (3, 'z')"));
      await b.query('create schema app_moved');
      await b.query('alter table app.xs set schema app_moved');
      seen.push(await fire("insert into app_moved.xs values (4, 'w')"));
      await b.query('alter schema app_moved rename to app_renamed');
      seen.push(await fire("insert into app_renamed.xs values (5, 'v')"));
      await b.query('drop trigger t on app_renamed.xs');
      await b.query(
        "create trigger t after insert on app_renamed.xs for each row execute procedure pgq.sqltriga('tq')",
      );
      seen.push(await fire("insert into app_renamed.xs values (6, 'u')"));
      expect(seen).toEqual([
        [['I:id', 'id=1&a=x', 'app.xs']],
        [['I:id', 'id=2&a=y&b=7', 'app.xs']],
        [['I:id', 'id=3&aa=z&b=7', 'app.xs']],
        [['I:id', 'id=4&aa=w&b=7', 'app_moved.xs']],
        [['I:id', 'id=5&aa=v&b=7', 'app_renamed.xs']],
        [['I', "(id,aa,b) values ('6','u','7')", 'app_renamed.xs']],
      ]);
    } finally {
      a.release();
      b.release();
      await db.query('drop schema app_renamed cascade');
    }
  });

  it('does not block DROP TABLE', async () => {
    await db.query('create table app.dr (id int primary key)');
    await db.query(
      "create trigger t after insert on app.dr for each row execute procedure pgq.logutriga('tq')",
    );
    await eventsOf('insert into app.dr values (1)');
    await db.query('drop table app.dr');
    expect((await db.one("select to_regclass('app.dr') is null as gone")).gone).toBe(true);
  });
});

describe('column names that are keywords or need quotes', () => {
  it('every trigger encodes columns named by, select and "Odd ""q" (PL/pgSQL field references)', async () => {
    const cols = 'id int primary key, "by" text, "select" int, "Odd ""q" text';
    for (const trig of ['logutriga', 'sqltriga', 'jsontriga']) {
      await db.query(`create table app.kw_${trig} (${cols})`);
      await db.query(
        `create trigger t after insert or update or delete on app.kw_${trig} for each row execute procedure pgq.${trig}('tq')`,
      );
    }
    const evs = await eventsOf(
      ...['logutriga', 'sqltriga', 'jsontriga'].flatMap((trig) => [
        `insert into app.kw_${trig} values (1, 'x', 2, 'o')`,
        `update app.kw_${trig} set "by" = 'y', "Odd ""q" = 'p'`,
        `delete from app.kw_${trig}`,
      ]),
    );
    expect(evs.map((e) => [e.ev_type, e.ev_data])).toEqual([
      ['I:id', 'id=1&by=x&select=2&Odd+%22q=o'],
      ['U:id', 'id=1&by=y&select=2&Odd+%22q=p'],
      ['D:id', 'id=1&by=y&select=2&Odd+%22q=p'],
      ['I', `(id,by,"select","Odd ""q") values ('1','x','2','o')`],
      ['U', `by='y',"Odd ""q"='p' where id='1'`],
      ['D', "id='1'"],
      expect.arrayContaining([]),
      expect.arrayContaining([]),
      expect.arrayContaining([]),
    ]);
    const json = evs.slice(6).map((e) => JSON.parse(e.ev_data ?? 'null'));
    expect(json).toEqual([
      { id: 1, by: 'x', select: 2, 'Odd "q': 'o' },
      { id: 1, by: 'y', select: 2, 'Odd "q': 'p' },
      { id: 1, by: 'y', select: 2, 'Odd "q': 'p' },
    ]);
  });
});
