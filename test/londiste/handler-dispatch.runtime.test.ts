// dispatch and its presets over events our logutriga produces: partitions made on demand
// (londiste.create_partition: inheritance children with the period's check constraint; a
// part_template with pre_part/post_part; the `like … including all` clone when the function is
// missing), rows routed by part_field / batch time, keep_latest / keep_all / plain, event_types,
// the fields map and skip_fields, bulk loading into partitions, retention with
// ignore_old_events, TRUNCATE, and the copy through the fields map.
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { SetApplier } from '../../layers/londiste/apply/applier.ts';
import { createHandlerString, type TableHandler } from '../../layers/londiste/handler.ts';
import { buildHandler, formatHandlers, listHandlers } from '../../layers/londiste/handlers/index.ts';
import { silentLogger } from '../../layers/util/log.ts';
import { useTestDatabase } from '../support/db.ts';
import { applyBatch, setupQueue, tableText, takeBatch } from './fixtures/trigger-events.ts';

const db = useTestDatabase();
const Q = 'dq';
const C = 'dispatch_test';
let client: pg.Client;

beforeAll(async () => {
  await setupQueue(db, Q, C);
  await db.query('create schema src; create schema dst; create schema app');
  client = await db.connect();
});

async function source(name: string, ddl: string): Promise<void> {
  await db.query(`create table src.${name} ${ddl}`);
  await db.query(
    `create trigger t after insert or update or delete on src.${name} for each row execute procedure pgq.logutriga('${Q}')`,
  );
  await db.query(
    `create trigger tr after truncate on src.${name} for each statement execute procedure pgq.logutriga('${Q}')`,
  );
}

async function run(name: string, hstr: string, h?: TableHandler): Promise<TableHandler> {
  const events = await takeBatch(db, Q, C);
  const handler = h ?? buildHandler(`src.${name}`, hstr, `dst.${name}`);
  await applyBatch(client, events, {
    handlers: new Map([[`src.${name}`, handler]]),
    applier: new SetApplier(),
  });
  return handler;
}

const children = async (parent: string) =>
  (
    await db.query(
      `select c.oid::regclass::text as t from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = $1::regclass order by 1`,
      [parent],
    )
  ).rows.map((r) => r.t as string);

/** The handler string add-table stores for --handler=name --handler-arg=… */
const hs = (name: string, ...args: string[]) => createHandlerString(name, args);

const rows = (t: string, cols = '*') => tableText(db, t, 'id', cols);

describe('dispatch presets', () => {
  it('show-handlers lists dispatch, the 32 presets, bulk_direct and direct', () => {
    const names = listHandlers().map((h) => h.name);
    const i = names.indexOf('dispatch');
    expect(names.slice(i + 1, i + 3)).toEqual(['hourly_event', 'hourly_batch']);
    expect(names).toContain('bulk_yearly_time');
    expect(names.slice(i + 33, i + 35)).toEqual(['bulk_direct', 'direct']);
    expect(formatHandlers(['daily_field'])).toMatch(
      /^daily_field - Custom dispatch handler with default args: table_mode = part, row_mode = keep_latest, load_mode = direct, period = day, part_mode = date_field\./,
    );
    expect(formatHandlers(['dispatch'])).toMatch(
      /\n {2}part_mode=batch_time\|event_time\|date_field\|current_time - /,
    );
    expect(() => buildHandler('src.x', 'daily_field')).toThrow(/requires part_field/);
    expect(() => buildHandler('src.x', hs('dispatch', 'period=week'))).toThrow(/bad argument period/);
    expect(() => buildHandler('src.x', hs('dispatch', 'event_types=I,X'))).toThrow(/unsupported operation/);
  });
});

describe('dispatch into partitions', () => {
  it('daily_field: partitions by the field, keep_latest, made by londiste.create_partition', async () => {
    await source('ev', '(id int primary key, ts timestamptz not null, v text)');
    await db.query('create table dst.ev (id int primary key, ts timestamptz not null, v text)');
    await db.query(`insert into src.ev values (1, '2026-01-01 10:00', 'a'), (2, '2026-01-01 23:59', 'b'),
      (3, '2026-01-02 00:00', 'c'), (4, '2026-01-03 12:00', 'd')`);
    await db.query(`update src.ev set v = 'b2' where id = 2`);
    await db.query('delete from src.ev where id = 4');
    await run('ev', hs('daily_field', 'part_field=ts'));
    expect(await children('dst.ev')).toEqual(['dst.ev_2026_01_01', 'dst.ev_2026_01_02', 'dst.ev_2026_01_03']);
    expect(await rows('only dst.ev')).toEqual([]);
    expect(await rows('dst.ev_2026_01_01', 'id, v')).toEqual(['(1,a)', '(2,b2)']);
    expect(await rows('dst.ev_2026_01_02', 'id, v')).toEqual(['(3,c)']);
    expect(await rows('dst.ev_2026_01_03')).toEqual([]);
    // the check constraint of the day: a row of another day is refused there
    await expect(db.query(`insert into dst.ev_2026_01_02 values (9, '2026-01-05', 'x')`)).rejects.toThrow(
      /check constraint/,
    );
    // the next batch finds the partitions there
    await db.query(`insert into src.ev values (5, '2026-01-02 08:00', 'e')`);
    await run('ev', hs('daily_field', 'part_field=ts'));
    expect(await rows('dst.ev_2026_01_02', 'id, v')).toEqual(['(3,c)', '(5,e)']);
  });

  it('hourly_batch: by the batch tick time in the session time zone; part_name', async () => {
    await source('hb', '(id int primary key, v text)');
    await db.query('create table dst.hb (id int primary key, v text)');
    await db.query(`insert into src.hb values (1, 'a')`);
    const hour = async () =>
      (await db.query("select 'dst.hb_' || to_char(clock_timestamp(), 'YYYY_MM_DD_HH24') as t")).rows[0].t;
    const before = await hour();
    await run('hb', 'hourly_batch');
    const after = await hour();
    const kids = await children('dst.hb');
    expect(kids).toHaveLength(1);
    expect([before, after]).toContain(kids[0]); // the batch's time lies between the two
    await db.query(`insert into src.hb values (2, 'b')`);
    await run('hb', hs('dispatch', 'part_name=%(parent)s_p%(year)s', 'period=year'));
    const y = (await db.query("select 'dst.hb_p' || to_char(now(), 'YYYY') as t")).rows[0].t;
    expect(await rows(y, 'id, v')).toEqual(['(2,b)']);
  });

  it('part_template with pre_part and post_part; the clone when part_func is missing', async () => {
    await source('pt', '(id int primary key, d date, v text)');
    await db.query('create table dst.pt (id int primary key, d date, v text)');
    await db.query('create table app.log (msg text)');
    await db.query(`insert into src.pt values (1, '2026-03-04', 'a')`);
    await run(
      'pt',
      hs(
        'monthly_field',
        'part_field=d',
        'part_template=create table %(part)s (like %(parent)s including defaults, primary key (%(pkeys)s))',
        "pre_part=insert into app.log values ('pre %(part)s %(period)s')",
        "post_part=insert into app.log values ('post %(schema_table)s')",
      ),
    );
    expect((await db.query('select msg from app.log')).rows.map((r) => r.msg)).toEqual([
      'pre dst.pt_2026_03 month',
      'post dst__pt_2026_03',
    ]);
    expect(await rows('dst.pt_2026_03', 'id, v')).toEqual(['(1,a)']);
    expect(await children('dst.pt')).toEqual([]); // the template made a plain table
    await db.query(`insert into src.pt values (2, '2027-01-01', 'b')`);
    await run('pt', hs('yearly_field', 'part_field=d', 'part_func=app.nope'));
    expect(await rows('dst.pt_2027', 'id, v')).toEqual(['(2,b)']);
    const pk = await db.query(
      "select count(*)::int as n from pg_index where indrelid = 'dst.pt_2027'::regclass and indisprimary",
    );
    expect(pk.rows[0].n).toBe(1);
  });

  it('keep_all on a table without a key: every version kept, deletes ignored', async () => {
    await source('ka', '(id int primary key, v text)');
    await db.query('create table dst.ka (id int, v text)');
    await db.query(`insert into src.ka values (1, 'a')`);
    await db.query(`update src.ka set v = 'b'`);
    await db.query(`update src.ka set v = 'c'`);
    await db.query(`delete from src.ka`);
    await run('ka', hs('dispatch', 'table_mode=direct', 'row_mode=keep_all'));
    expect(await tableText(db, 'dst.ka', 'v')).toEqual(['(1,a)', '(1,b)', '(1,c)']);
  });

  it('bulk_daily_field: bulk load into the partitions', async () => {
    await source('bk', '(id int primary key, ts timestamp, v text)');
    await db.query('create table dst.bk (id int primary key, ts timestamp, v text)');
    await db.query(`insert into src.bk select g, '2026-05-01'::timestamp + g * interval '6 hours', 'v' || g
                      from generate_series(1, 12) g`);
    await db.query(`update src.bk set v = v || '+' where id % 2 = 0`);
    await db.query('delete from src.bk where id % 5 = 0');
    await run('bk', hs('bulk_daily_field', 'part_field=ts'));
    expect(await children('dst.bk')).toHaveLength(4);
    expect(await rows('dst.bk')).toEqual(await rows('src.bk'));
  });

  it('retention_period with ignore_old_events: old partitions dropped, their events ignored', async () => {
    await source('rt', '(id int primary key, ts timestamptz, v text)');
    await db.query('create table dst.rt (id int primary key, ts timestamptz, v text)');
    await db.query('create table dst.rt_2001_01_01 () inherits (dst.rt)');
    await db.query(`insert into src.rt values (1, '2000-01-01', 'old'), (2, now(), 'new')`);
    await run('rt', hs('daily_field', 'part_field=ts', 'retention_period=1 month', 'ignore_old_events=1'));
    const kids = await children('dst.rt');
    expect(kids).toHaveLength(1);
    expect(kids[0]).toMatch(/^dst\.rt_\d{4}_\d\d_\d\d$/);
    expect(await rows('dst.rt', 'id, v')).toEqual(['(2,new)']);
  });
});

describe('dispatch direct', () => {
  it('fields map, skip_fields, event_types and table=', async () => {
    await source('fm', '(id int primary key, v text, secret text, n int)');
    await db.query('create table dst.renamed (id int primary key, value text, n int)');
    await db.query(`insert into src.fm values (1, 'a', 's1', 10), (2, 'b', 's2', 20)`);
    await db.query(`update src.fm set v = 'b2', n = 21 where id = 2`);
    await db.query(`delete from src.fm where id = 1`);
    await run('fm', hs('dispatch', 'table_mode=direct', 'fields=id,v:value,n', 'table=dst.renamed'));
    expect(await rows('dst.renamed')).toEqual(['(2,b2,21)']);

    await db.query('create table dst.fm (id int primary key, v text, n int)');
    await db.query(`insert into src.fm values (3, 'c', 's3', 30)`);
    await db.query(`update src.fm set v = 'c2' where id = 3`);
    await db.query(`delete from src.fm where id = 2`);
    await run('fm', hs('direct', 'skip_fields=secret', 'event_types=I,D'));
    expect(await rows('dst.fm')).toEqual(['(3,c,30)']);
  });

  it('TRUNCATE of the destination; ignore_truncate=1; table_mode=ignore', async () => {
    await source('tt', '(id int primary key, v text)');
    await db.query('create table dst.tt (id int primary key, v text)');
    await db.query(`insert into src.tt values (1, 'a')`);
    await db.query('truncate src.tt');
    await db.query(`insert into src.tt values (2, 'b')`);
    await run('tt', 'direct');
    expect(await rows('dst.tt')).toEqual(['(2,b)']);
    await db.query('truncate src.tt');
    await run('tt', hs('direct', 'ignore_truncate=1'));
    expect(await rows('dst.tt')).toEqual(['(2,b)']);
    await db.query(`insert into src.tt values (3, 'c')`);
    await run('tt', hs('dispatch', 'table_mode=ignore'));
    expect(await rows('dst.tt')).toEqual(['(2,b)']);
  });

  it('copies through the fields map', async () => {
    await db.query(`create table src.cp (id int primary key, v text, secret text);
      insert into src.cp select g, 'v' || g, 's' || g from generate_series(1, 12000) g;
      create table dst.cp (id int primary key, value text)`);
    const h = buildHandler('src.cp', hs('direct', 'fields=id,v:value'), 'dst.cp');
    expect(h.realCopy).toBeTypeOf('function');
    expect(buildHandler('src.cp', 'direct', 'dst.cp').realCopy).toBeUndefined();
    const provider = await db.connect();
    try {
      await provider.query('begin isolation level repeatable read');
      await client.query('begin');
      const res = await h.realCopy!({
        provider,
        local: client,
        sourceTable: 'src.cp',
        columns: ['id', 'v', 'secret'],
        log: silentLogger,
      });
      await client.query('commit');
      await provider.query('commit');
      expect(res.rows).toBe(12000);
    } finally {
      await provider.end();
    }
    expect(await db.one('select count(*)::int as n, max(value) as m from dst.cp')).toEqual({
      n: 12000,
      m: 'v9999',
    });
  });
});
