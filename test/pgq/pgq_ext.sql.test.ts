// pgq_ext contracts: last-batch tracking, per-event tracking inside a partial batch (cleaned up
// when the next batch starts), last-tick tracking, subconsumers kept apart, privileges, a
// standalone install into a database without pgq, and the upgrade of pre-subconsumer tables.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadManifest } from '../../layers/install/manifest.ts';
import { createDatabase, useTestDatabase, withRole } from '../support/db.ts';
import { pgError } from '../support/pgq.ts';

const db = useTestDatabase();

async function val<T = unknown>(sql: string, params: unknown[] = []): Promise<T> {
  return (await db.one(`select ${sql} as v`, params)).v as T;
}

describe('pgq_ext batch tracking', () => {
  it('remembers the last finished batch per consumer; setting it twice returns false', async () => {
    expect(await val("pgq_ext.is_batch_done('bc', 1)")).toBe(false);
    expect(await val("pgq_ext.set_batch_done('bc', 1)")).toBe(true);
    expect(await val("pgq_ext.is_batch_done('bc', 1)")).toBe(true);
    expect(await val("pgq_ext.set_batch_done('bc', 1)")).toBe(false);
    expect(await val("pgq_ext.is_batch_done('bc', 2)")).toBe(false);
    expect(await val("pgq_ext.set_batch_done('bc', 2)")).toBe(true);
    // only the latest batch is remembered
    expect(await val("pgq_ext.is_batch_done('bc', 1)")).toBe(false);
    expect(await val("pgq_ext.is_batch_done('bc', 2)")).toBe(true);
    const rows = await db.query(
      "select subconsumer_id, last_batch_id from pgq_ext.completed_batch where consumer_id = 'bc'",
    );
    expect(rows.rows).toEqual([{ subconsumer_id: '', last_batch_id: 2n }]);
  });

  it('keeps subconsumers apart, and the 2-argument form is subconsumer ""', async () => {
    expect(await val("pgq_ext.set_batch_done('sc', 'a', 10)")).toBe(true);
    expect(await val("pgq_ext.is_batch_done('sc', 'a', 10)")).toBe(true);
    expect(await val("pgq_ext.is_batch_done('sc', 'b', 10)")).toBe(false);
    expect(await val("pgq_ext.is_batch_done('sc', 10)")).toBe(false);
    expect(await val("pgq_ext.set_batch_done('sc', '', 11)")).toBe(true);
    expect(await val("pgq_ext.is_batch_done('sc', 11)")).toBe(true);
    expect(await val("pgq_ext.is_batch_done('sc', 'a', 10)")).toBe(true);
  });

  it('accepts a batch id ≤ 0 without storing it', async () => {
    expect(await val("pgq_ext.set_batch_done('zero', 0)")).toBe(true);
    expect(
      (await db.one("select count(*)::int as n from pgq_ext.completed_batch where consumer_id = 'zero'")).n,
    ).toBe(0);
  });
});

describe('pgq_ext event tracking (partial batches)', () => {
  it('tracks events of the current batch and forgets them when the next batch starts', async () => {
    expect(await val("pgq_ext.is_event_done('ec', 3, 101)")).toBe(false);
    expect(await val("pgq_ext.set_event_done('ec', 3, 101)")).toBe(true);
    expect(await val("pgq_ext.is_event_done('ec', 3, 101)")).toBe(true);
    expect(await val("pgq_ext.set_event_done('ec', 3, 101)")).toBe(false);
    expect(await val("pgq_ext.set_event_done('ec', 3, 102)")).toBe(true);
    expect(await val("pgq_ext.is_event_done('ec', 3, 103)")).toBe(false);
    // batch tracking is independent of event tracking
    expect(await val("pgq_ext.set_batch_done('ec', 3)")).toBe(true);
    const ev = async () =>
      (
        await db.query(
          "select batch_id, event_id from pgq_ext.completed_event where consumer_id = 'ec' order by 1, 2",
        )
      ).rows.map((r) => [r.batch_id, r.event_id]);
    expect(await ev()).toEqual([
      [3n, 101n],
      [3n, 102n],
    ]);
    expect(
      (await db.one("select cur_batch_id from pgq_ext.partial_batch where consumer_id = 'ec'")).cur_batch_id,
    ).toBe(3n);
    // the first event of batch 4 means batch 3 was finished: its rows go
    expect(await val("pgq_ext.set_event_done('ec', 4, 201)")).toBe(true);
    expect(await ev()).toEqual([[4n, 201n]]);
    expect(await val("pgq_ext.is_event_done('ec', 3, 101)")).toBe(false);
    expect(
      (await db.one("select cur_batch_id from pgq_ext.partial_batch where consumer_id = 'ec'")).cur_batch_id,
    ).toBe(4n);
  });

  it('keeps subconsumers apart', async () => {
    expect(await val("pgq_ext.set_event_done('es', 'x', 7, 1)")).toBe(true);
    expect(await val("pgq_ext.is_event_done('es', 'x', 7, 1)")).toBe(true);
    expect(await val("pgq_ext.is_event_done('es', 'y', 7, 1)")).toBe(false);
    expect(await val("pgq_ext.is_event_done('es', 7, 1)")).toBe(false);
    expect(await val("pgq_ext.set_event_done('es', 'y', 8, 1)")).toBe(true);
    // y moving to batch 8 does not clean x's batch 7
    expect(await val("pgq_ext.is_event_done('es', 'x', 7, 1)")).toBe(true);
  });
});

describe('pgq_ext tick tracking', () => {
  it('records, moves and forgets the last tick (NULL resets)', async () => {
    expect(await val("pgq_ext.get_last_tick('tc')")).toBeNull();
    expect(await val("pgq_ext.set_last_tick('tc', 5)")).toBe(1);
    expect(await val("pgq_ext.get_last_tick('tc')")).toBe(5n);
    expect(await val("pgq_ext.set_last_tick('tc', 6)")).toBe(1);
    expect(await val("pgq_ext.get_last_tick('tc')")).toBe(6n);
    expect(await val("pgq_ext.set_last_tick('tc', 's1', 40)")).toBe(1);
    expect(await val("pgq_ext.get_last_tick('tc', 's1')")).toBe(40n);
    expect(await val("pgq_ext.get_last_tick('tc', '')")).toBe(6n);
    expect(await val("pgq_ext.set_last_tick('tc', null)")).toBe(1);
    expect(await val("pgq_ext.get_last_tick('tc')")).toBeNull();
    expect(await val("pgq_ext.get_last_tick('tc', 's1')")).toBe(40n);
  });
});

describe('pgq_ext schema', () => {
  it('reports its version, and upgrade_schema is a no-op on current tables', async () => {
    expect(await val('pgq_ext.version()')).toBe('3.0.0.3');
    expect(await val('pgq_ext.upgrade_schema()')).toBe(0);
  });

  it('lets everyone call version() but only pgq_writer the tracking functions', async () => {
    const role = `ext_${randomBytes(4).toString('hex')}`;
    const writer = `${role}_w`;
    await db.query(`create role ${role} login password 'pw'`);
    await db.query(`create role ${writer} login password 'pw' in role pgq_writer`);
    const as = async (user: string, sql: string) =>
      (await withRole(db.url, user, (c) => c.query(sql))).rows[0];
    try {
      expect(await as(role, 'select pgq_ext.version() as v')).toEqual({ v: '3.0.0.3' });
      const denied = await pgError(as(role, "select pgq_ext.set_batch_done('x', 1)"));
      expect(denied.code).toBe('42501');
      expect(await as(writer, "select pgq_ext.set_batch_done('w', 1) as v")).toEqual({ v: true });
      expect(await as(writer, "select pgq_ext.set_last_tick('w', 3) as v")).toEqual({ v: 1 });
      const noTable = await pgError(as(writer, 'select * from pgq_ext.completed_batch'));
      expect(noTable.code).toBe('42501');
    } finally {
      await db.query(`drop owned by ${role}, ${writer}`);
      await db.query(`drop role ${role}`);
      await db.query(`drop role ${writer}`);
    }
  });

  it('installs alone into a database without pgq, and upgrades pre-subconsumer tables keeping rows', async () => {
    const empty = await createDatabase({ empty: true });
    try {
      // The layout of pgq_ext before subconsumers.
      await empty.query(`
        create schema pgq_ext;
        create table pgq_ext.completed_tick (consumer_id text primary key, last_tick_id bigint not null);
        create table pgq_ext.completed_batch (consumer_id text primary key, last_batch_id bigint not null);
        create table pgq_ext.completed_event (consumer_id text not null, batch_id bigint not null,
            event_id bigint not null, primary key (consumer_id, batch_id, event_id));
        create table pgq_ext.partial_batch (consumer_id text primary key, cur_batch_id bigint not null);
        insert into pgq_ext.completed_batch values ('old', 77);
        insert into pgq_ext.completed_tick values ('old', 12);
        insert into pgq_ext.completed_event values ('old', 77, 1);
        insert into pgq_ext.partial_batch values ('old', 77);
      `);
      const c = await empty.connect();
      // The module's own manifest, as psql -f sql/pgq_ext/install.sql would run it.
      await c.query('begin');
      for (const chunk of loadManifest('pgq_ext/install.sql')) await c.query(chunk.text);
      await c.query('commit');
      expect((await empty.one("select to_regnamespace('pgq') as n")).n).toBeNull();
      const q = async (sql: string) => (await empty.one(`select ${sql} as v`)).v;
      expect(await q("pgq_ext.is_batch_done('old', 77)")).toBe(true);
      expect(await q("pgq_ext.get_last_tick('old')")).toBe(12n);
      expect(await q("pgq_ext.is_event_done('old', 77, 1)")).toBe(true);
      expect(await q("pgq_ext.set_batch_done('old', 's', 5)")).toBe(true);
      expect(await q("pgq_ext.is_batch_done('old', 's', 5)")).toBe(true);
      expect(await q('pgq_ext.upgrade_schema()')).toBe(0);
      const keys = await empty.query(
        `select conrelid::regclass::text as t, pg_get_constraintdef(oid) as d from pg_constraint
          where connamespace = 'pgq_ext'::regnamespace and contype = 'p' order by 1`,
      );
      expect(keys.rows).toEqual([
        { t: 'pgq_ext.completed_batch', d: 'PRIMARY KEY (consumer_id, subconsumer_id)' },
        { t: 'pgq_ext.completed_event', d: 'PRIMARY KEY (consumer_id, subconsumer_id, batch_id, event_id)' },
        { t: 'pgq_ext.completed_tick', d: 'PRIMARY KEY (consumer_id, subconsumer_id)' },
        { t: 'pgq_ext.partial_batch', d: 'PRIMARY KEY (consumer_id, subconsumer_id)' },
      ]);
    } finally {
      await empty.drop();
    }
  });
});
