// pgq_coop contracts: subconsumers of one cooperative consumer share its batches (each batch
// to exactly one of them), a dead subconsumer's batch is taken over after dead_interval,
// finishing closes only the subconsumer's batch, and unregistering handles an open batch as
// told.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { pgError, tick } from '../support/pgq.ts';

const db = useTestDatabase();

async function queue(name: string): Promise<void> {
  await db.query('select pgq.create_queue($1)', [name]);
}

async function produce(q: string, ...data: string[]): Promise<bigint> {
  for (const d of data) await db.query("select pgq.insert_event($1, 'T', $2)", [q, d]);
  return tick(db, q);
}

async function coopNext(q: string, main: string, sub: string, dead?: string): Promise<bigint | null> {
  const r = dead
    ? await db.one('select pgq_coop.next_batch($1, $2, $3, $4::interval) as b', [q, main, sub, dead])
    : await db.one('select pgq_coop.next_batch($1, $2, $3) as b', [q, main, sub]);
  return r.b;
}

async function events(batch: bigint): Promise<string[]> {
  return (await db.query('select ev_data from pgq.get_batch_events($1) order by ev_id', [batch])).rows.map(
    (r) => r.ev_data,
  );
}

async function subs(q: string) {
  return (
    await db.query(
      `select c.co_name, s.sub_id, s.sub_last_tick, s.sub_next_tick, s.sub_batch
         from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
         join pgq.queue q on q.queue_id = s.sub_queue
        where q.queue_name = $1 order by c.co_name`,
      [q],
    )
  ).rows;
}

describe('registration', () => {
  it('register_subconsumer registers the main consumer too and shares its sub_id', async () => {
    await queue('reg');
    expect((await db.one("select pgq_coop.register_subconsumer('reg', 'main', 's1') as r")).r).toBe(1);
    expect((await db.one("select pgq_coop.register_subconsumer('reg', 'main', 's1') as r")).r).toBe(0);
    expect((await db.one("select pgq_coop.register_subconsumer('reg', 'main', 's2') as r")).r).toBe(1);
    const rows = await subs('reg');
    expect(rows.map((r) => r.co_name)).toEqual(['main', 'main.s1', 'main.s2']);
    expect(new Set(rows.map((r) => r.sub_id)).size).toBe(1);
    expect(rows[0].sub_last_tick).not.toBeNull();
    expect(rows.slice(1).map((r) => [r.sub_last_tick, r.sub_next_tick, r.sub_batch])).toEqual([
      [null, null, null],
      [null, null, null],
    ]);
    // pgq sees the group: unregistering the main consumer removes every subconsumer
    expect((await db.one("select pgq.unregister_consumer('reg', 'main') as n")).n).toBe(3);
    expect(await subs('reg')).toEqual([]);
  });

  it('next_batch registers unknown consumers and subconsumers on the fly', async () => {
    await queue('auto');
    expect(await coopNext('auto', 'cmain', 'sc1')).toBeNull();
    expect(await coopNext('auto', 'cmain', 'sc2')).toBeNull();
    expect((await subs('auto')).map((r) => r.co_name)).toEqual(['cmain', 'cmain.sc1', 'cmain.sc2']);
  });

  it('rejects unknown queues and NULL names without registering anything', async () => {
    const before = (await db.one('select count(*)::int as n from pgq.subscription')).n;
    expect((await pgError(db.query("select pgq_coop.register_subconsumer('nope', 'm', 's')"))).message).toBe(
      'Event queue not created yet',
    );
    expect((await pgError(db.query("select pgq_coop.next_batch('nope', 'm', 's')"))).message).toBe(
      'Event queue not created yet',
    );
    await queue('nulls');
    await pgError(db.query("select pgq_coop.next_batch('nulls', 'm', null)"));
    await pgError(db.query("select pgq_coop.register_subconsumer('nulls', null, 's')"));
    expect((await db.one('select count(*)::int as n from pgq.subscription')).n).toBe(before);
  });
});

describe('sharing batches', () => {
  it('each batch goes to one subconsumer; together they see every event once, in batch order', async () => {
    await queue('share');
    await db.query("select pgq_coop.register_subconsumer('share', 'm', 'a')");
    await db.query("select pgq_coop.register_subconsumer('share', 'm', 'b')");
    await produce('share', 'e1', 'e2');
    await produce('share', 'e3');
    await produce('share', 'e4', 'e5');

    const a1 = await coopNext('share', 'm', 'a');
    const b1 = await coopNext('share', 'm', 'b');
    expect(a1).not.toBeNull();
    expect(b1).not.toBeNull();
    expect(a1).not.toBe(b1);
    // asking again returns the open batch, not a new one
    expect(await coopNext('share', 'm', 'a')).toBe(a1);
    const seen = [...(await events(a1 as bigint)), ...(await events(b1 as bigint))];
    expect((await db.one('select pgq_coop.finish_batch($1) as r', [a1])).r).toBe(1);
    const a2 = await coopNext('share', 'm', 'a');
    seen.push(...(await events(a2 as bigint)));
    await db.query('select pgq_coop.finish_batch($1)', [a2]);
    await db.query('select pgq_coop.finish_batch($1)', [b1]);
    expect(await coopNext('share', 'm', 'a')).toBeNull();
    expect(await coopNext('share', 'm', 'b')).toBeNull();
    expect(seen).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
  });

  it('handing out a batch advances the main consumer; finishing clears only the subconsumer', async () => {
    await queue('adv');
    await db.query("select pgq_coop.register_subconsumer('adv', 'm', 'a')");
    const t = await produce('adv', 'x');
    const b = (await coopNext('adv', 'm', 'a')) as bigint;
    let rows = await subs('adv');
    expect(rows[0]).toMatchObject({ co_name: 'm', sub_last_tick: t, sub_next_tick: null, sub_batch: null });
    expect(rows[1]).toMatchObject({ co_name: 'm.a', sub_next_tick: t, sub_batch: b });
    const info = await db.one(
      "select last_tick, current_batch, next_tick from pgq.get_consumer_info('adv', 'm')",
    );
    expect(info).toEqual({ last_tick: t, current_batch: null, next_tick: null });
    expect((await db.one('select pgq_coop.finish_batch($1) as r', [b])).r).toBe(1);
    rows = await subs('adv');
    expect(rows[1]).toMatchObject({
      co_name: 'm.a',
      sub_last_tick: null,
      sub_next_tick: null,
      sub_batch: null,
    });
    expect(rows[0].sub_last_tick).toBe(t);
    // a batch that is not open: 0 and a warning
    expect((await db.one('select pgq_coop.finish_batch($1) as r', [b])).r).toBe(0);
    expect((await db.one('select pgq_coop.finish_batch(-1) as r')).r).toBe(0);
  });

  it('next_batch_info / next_batch_custom return the tick details of the batch', async () => {
    await queue('info');
    await db.query("select pgq_coop.register_subconsumer('info', 'm', 'a')");
    const t0 = (await db.one("select last_tick from pgq.get_consumer_info('info', 'm')")).last_tick;
    const t1 = await produce('info', 'one');
    const r = await db.one("select * from pgq_coop.next_batch_info('info', 'm', 'a')");
    expect(r).toMatchObject({ prev_tick_id: t0, cur_tick_id: t1 });
    expect(r.batch_id).not.toBeNull();
    expect(r.cur_tick_time).toBeInstanceOf(Date);
    expect(r.cur_tick_event_seq - r.prev_tick_event_seq).toBeGreaterThan(0n);
    // the open batch again, with the same details
    expect(await db.one("select * from pgq_coop.next_batch_info('info', 'm', 'a', '1 hour')")).toEqual(r);
    await db.query('select pgq_coop.finish_batch($1)', [r.batch_id]);
    const none = await db.one("select * from pgq_coop.next_batch_custom('info', 'm', 'a', null, null, null)");
    expect(Object.values(none).every((v) => v === null)).toBe(true);
    // min_count: wait until the batch would hold at least 3 events
    await produce('info', 'a');
    const small = await db.one(
      "select batch_id from pgq_coop.next_batch_custom('info', 'm', 'a', null, 1000000, null)",
    );
    expect(small.batch_id).toBeNull();
    const min = await db.one(
      "select batch_id from pgq_coop.next_batch_custom('info', 'm', 'a', null, 1, null, null)",
    );
    expect(await events(min.batch_id)).toEqual(['a']);
  });

  it('retried events come back to the group', async () => {
    await queue('retry');
    await db.query("select pgq_coop.register_subconsumer('retry', 'm', 'a')");
    await db.query("select pgq_coop.register_subconsumer('retry', 'm', 'b')");
    await produce('retry', 'again');
    const b = (await coopNext('retry', 'm', 'a')) as bigint;
    const ev = await db.one('select ev_id from pgq.get_batch_events($1)', [b]);
    await db.query('select pgq.event_retry($1, $2, 0)', [b, ev.ev_id]);
    await db.query('select pgq_coop.finish_batch($1)', [b]);
    await db.query('select pgq.maint_retry_events()');
    await tick(db, 'retry');
    const b2 = (await coopNext('retry', 'm', 'b')) as bigint;
    const again = await db.query('select ev_data, ev_retry from pgq.get_batch_events($1)', [b2]);
    expect(again.rows).toEqual([{ ev_data: 'again', ev_retry: 1 }]);
  });

  it('two subconsumers asking at the same moment get different batches', async () => {
    await queue('race');
    await db.query("select pgq_coop.register_subconsumer('race', 'm', 'a')");
    await db.query("select pgq_coop.register_subconsumer('race', 'm', 'b')");
    await produce('race', '1');
    await produce('race', '2');
    const c1 = await db.connect();
    const c2 = await db.connect();
    await c1.query('begin');
    const r1 = await c1.query("select pgq_coop.next_batch('race', 'm', 'a') as b");
    const p2 = c2.query("select pgq_coop.next_batch('race', 'm', 'b') as b");
    await new Promise((r) => setTimeout(r, 100));
    await c1.query('commit');
    const r2 = await p2;
    expect(r1.rows[0].b).not.toBeNull();
    expect(r2.rows[0].b).not.toBeNull();
    expect(r1.rows[0].b).not.toBe(r2.rows[0].b);
  });

  it('refuses when the main consumer holds a batch of its own', async () => {
    await queue('mainopen');
    await db.query("select pgq_coop.register_subconsumer('mainopen', 'm', 'a')");
    await produce('mainopen', 'x');
    await db.query("select pgq.next_batch('mainopen', 'm')");
    const e = await pgError(db.query("select pgq_coop.next_batch('mainopen', 'm', 'a')"));
    expect(e).toMatchObject({ message: 'main consumer has batch open?', code: 'PC002' });
  });
});

describe('dead subconsumers', () => {
  it("after dead_interval another subconsumer takes over the dead one's batch", async () => {
    await queue('dead');
    await db.query("select pgq_coop.register_subconsumer('dead', 'm', 'a')");
    await db.query("select pgq_coop.register_subconsumer('dead', 'm', 'b')");
    await produce('dead', 'lost?');
    const ba = (await coopNext('dead', 'm', 'a')) as bigint;
    // still alive: b gets nothing (no further batch) and a keeps its batch
    expect(await coopNext('dead', 'm', 'b', '1 hour')).toBeNull();
    expect((await subs('dead')).find((r) => r.co_name === 'm.a')?.sub_batch).toBe(ba);
    // a falls silent for two hours
    await db.query(
      "update pgq.subscription set sub_active = now() - interval '2 hours' where sub_batch = $1",
      [ba],
    );
    // without dead_interval nobody looks
    expect(await coopNext('dead', 'm', 'b')).toBeNull();
    const taken = await coopNext('dead', 'm', 'b', '1 hour');
    expect(taken).toBe(ba);
    expect(await events(taken as bigint)).toEqual(['lost?']);
    expect((await subs('dead')).map((r) => r.co_name)).toEqual(['m', 'm.b']);
    expect((await db.one('select pgq_coop.finish_batch($1) as r', [ba])).r).toBe(1);
    expect(await coopNext('dead', 'm', 'b', '1 hour')).toBeNull();
    // the dead one re-registers on its next call and carries on
    await produce('dead', 'next');
    const nb = (await coopNext('dead', 'm', 'a')) as bigint;
    expect(await events(nb)).toEqual(['next']);
  });
});

describe('unregister_subconsumer', () => {
  it('with an open batch: 0 refuses and changes nothing, 1 drops the batch', async () => {
    await queue('unreg');
    await db.query("select pgq_coop.register_subconsumer('unreg', 'm', 'a')");
    await db.query("select pgq_coop.register_subconsumer('unreg', 'm', 'b')");
    await produce('unreg', 'x');
    const b = await coopNext('unreg', 'm', 'a');
    expect(b).not.toBeNull();
    const before = await subs('unreg');
    const e = await pgError(db.query("select pgq_coop.unregister_subconsumer('unreg', 'm', 'a', 0)"));
    expect(e).toMatchObject({ message: 'subconsumer has active batch', code: 'PC004' });
    await pgError(db.query("select pgq_coop.unregister_subconsumer('unreg', 'm', 'a', null)"));
    expect(await subs('unreg')).toEqual(before);
    expect((await db.one("select pgq_coop.unregister_subconsumer('unreg', 'm', 'a', 1) as r")).r).toBe(1);
    expect((await subs('unreg')).map((r) => r.co_name)).toEqual(['m', 'm.b']);
    expect((await db.one("select pgq_coop.unregister_subconsumer('unreg', 'm', 'a', 0) as r")).r).toBe(0);
    // without a batch, 0 is enough
    expect((await db.one("select pgq_coop.unregister_subconsumer('unreg', 'm', 'b', 0) as r")).r).toBe(1);
    expect((await db.one("select pgq_coop.unregister_subconsumer('nope', 'm', 'b', 0) as r")).r).toBe(0);
    expect((await subs('unreg')).map((r) => r.co_name)).toEqual(['m']);
  });
});

describe('version', () => {
  it('reports the pgq_coop API level', async () => {
    expect((await db.one('select pgq_coop.version() as v')).v).toMatch(/^3\./);
  });
});
