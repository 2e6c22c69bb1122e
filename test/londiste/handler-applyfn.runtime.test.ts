// applyfn: each event of the table becomes one call of the named function with the original's
// twelve arguments (func_conf, tick id, the event's fields), in event order; a failing function
// is the table's apply_failed with the transaction still usable; func_name is required.
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { SetApplier } from '../../layers/londiste/apply/applier.ts';
import { buildHandler } from '../../layers/londiste/handlers/index.ts';
import { useTestDatabase } from '../support/db.ts';
import { applyBatch, contextFor, setupQueue, takeBatch } from './fixtures/trigger-events.ts';

const db = useTestDatabase();
const Q = 'fq';
const C = 'applyfn_test';
let client: pg.Client;

beforeAll(async () => {
  await setupQueue(db, Q, C);
  await db.query(`create schema src; create schema app;
    create table src.t (id int primary key, v text);
    create trigger t after insert or update or delete on src.t for each row execute procedure pgq.logutriga('${Q}');
    create table app.calls (n serial, conf text, tick bigint, ev_id bigint, ev_time timestamptz, txid bigint,
                            retry int, ev_type text, ev_data text, e1 text, e2 text, e3 text, e4 text);
    create function app.apply_ev(conf text, tick bigint, ev_id bigint, ev_time timestamptz, txid bigint,
        retry int, ev_type text, ev_data text, e1 text, e2 text, e3 text, e4 text) returns void
      language sql as $$ insert into app.calls (conf, tick, ev_id, ev_time, txid, retry, ev_type, ev_data, e1, e2, e3, e4)
                         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) $$;
    create function app.fails(text, bigint, bigint, timestamptz, bigint, int, text, text, text, text, text, text)
      returns void language plpgsql as $$ begin raise exception 'no thanks' using errcode = '22023'; end $$;`);
  client = await db.connect();
});

describe('applyfn', () => {
  it('calls the function once per event, in order, with the event and func_conf', async () => {
    await db.query(`insert into src.t values (1, 'a'), (2, 'b & c')`);
    await db.query(`update src.t set v = 'x' where id = 1`);
    await db.query(`delete from src.t where id = 2`);
    const events = await takeBatch(db, Q, C);
    expect(events).toHaveLength(4);
    const h = buildHandler('src.t', 'applyfn(func_name=app.apply_ev&func_conf=mode%3Dfast)');
    await applyBatch(client, events, { handlers: new Map([['src.t', h]]), applier: new SetApplier() });
    const r = await db.query('select * from app.calls order by n');
    expect(r.rows.map((x) => [x.conf, String(x.tick), String(x.ev_id), x.ev_type, x.ev_data, x.e1])).toEqual(
      events.map((e) => ['mode=fast', '2', String(e.id), e.type, e.data, e.extra1]),
    );
    expect(r.rows.map((x) => x.ev_type)).toEqual(['I:id', 'I:id', 'U:id', 'D:id']);
    expect(r.rows[0].ev_time).toBeInstanceOf(Date);
    expect(String(r.rows[0].txid)).toBe(String(events[0]!.txid));
  });

  it("a failing function is the table's apply_failed; the transaction goes on", async () => {
    await db.query(`insert into src.t values (9, 'z')`);
    const [ev] = await takeBatch(db, Q, C);
    const h = buildHandler('src.t', 'applyfn(func_name=app.fails)');
    const ctx = contextFor(client, new SetApplier());
    await client.query('begin');
    try {
      await expect(h.processEvent(ev!, ctx)).rejects.toMatchObject({
        kind: 'apply_failed',
        sqlState: '22023',
      });
      expect((await client.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      await client.query('rollback');
    }
  });

  it('runs between the chunks another table writes behind (flushBehind), with bulk as well', async () => {
    await db.query(`create table src.big (id int primary key, v text); create table app.big (id int primary key, v text);
      create table src.b (id int primary key, v text); create table app.b (id int primary key, v text);
      create trigger t after insert or update or delete on src.big for each row execute procedure pgq.logutriga('${Q}');
      create trigger t after insert or update or delete on src.b for each row execute procedure pgq.logutriga('${Q}');
      truncate app.calls`);
    for (let i = 0; i < 3; i++) {
      await db.query(
        `insert into src.big select g, 'v' || g from generate_series(${i * 6000 + 1}, ${(i + 1) * 6000}) g`,
      );
      await db.query(`insert into src.t values (${100 + i}, 'x'); insert into src.b values (${i}, 'b')`);
    }
    const events = await takeBatch(db, Q, C);
    const handlers = new Map([
      ['src.big', buildHandler('src.big', 'londiste', 'app.big')],
      ['src.t', buildHandler('src.t', 'applyfn(func_name=app.apply_ev)')],
      ['src.b', buildHandler('src.b', 'bulk', 'app.b')],
    ]);
    await applyBatch(client, events, { handlers, applier: new SetApplier() });
    expect((await db.one('select count(*)::int as n from app.big')).n).toBe(18000);
    expect((await db.query('select ev_data from app.calls order by n')).rows.map((r) => r.ev_data)).toEqual([
      'id=100&v=x',
      'id=101&v=x',
      'id=102&v=x',
    ]);
    expect((await db.query('select id from app.b order by id')).rows).toEqual([
      { id: 0 },
      { id: 1 },
      { id: 2 },
    ]);
  });

  it('needs func_name, refuses other arguments', () => {
    expect(() => buildHandler('src.t', 'applyfn')).toThrow(/func_name is required/);
    expect(() => buildHandler('src.t', 'applyfn(func_name=f&x=1)')).toThrow(/invalid handler argument: x/);
  });

  it('multimaster is listed as not available and refused', async () => {
    const { formatHandlers } = await import('../../layers/londiste/handlers/index.ts');
    expect(formatHandlers()).toMatch(/^multimaster - Not available: /m);
    expect(() => buildHandler('src.t', 'multimaster')).toThrow(/not available here/);
  });
});
