// The set-based apply over events from our real triggers: each trigger's shape ends with the
// destination equal to the source, in a few statements per table; the ordered fallback for a
// unique value moved between rows; sqltriga fragments kept as SQL applied in order; TRUNCATE;
// and the errors a table's definition causes (apply_failed naming table and column, the batch's
// transaction still usable), while connection errors pass through unchanged.
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { failedApplyTable, SetApplier } from '../../layers/londiste/apply/applier.ts';
import { decodeEvent, type TableChange } from '../../layers/londiste/events.ts';
import type { TableHandler } from '../../layers/londiste/handler.ts';
import { buildHandler } from '../../layers/londiste/handlers/index.ts';
import { dbUrlencode, emptyRow } from '../../layers/londiste/urlenc.ts';
import type { PgqEvent } from '../../layers/pgq/consumer.ts';
import { useTestDatabase } from '../support/db.ts';
import { applyBatch, contextFor, setupQueue, tableText, takeBatch } from './fixtures/trigger-events.ts';

const db = useTestDatabase();
const Q = 'aq';
const C = 'apply_test';
let client: pg.Client;

beforeAll(async () => {
  await setupQueue(db, Q, C);
  await db.query('create schema src; create schema dst');
  client = await db.connect();
});

/** Creates src.<name> with a trigger and an identical dst.<name> (the DDL is run for both). */
async function pair(name: string, ddl: string, trigger: string): Promise<void> {
  await db.query(`create table src.${name} ${ddl}`);
  await db.query(`create table dst.${name} ${ddl}`);
  await db.query(
    `create trigger t after insert or update or delete on src.${name} for each row execute procedure ${trigger}`,
  );
  await db.query(
    `create trigger tr after truncate on src.${name} for each statement execute procedure ${trigger}`,
  );
}

function handlersFor(names: string[], hstr?: string): Map<string, TableHandler> {
  return new Map(names.map((n) => [`src.${n}`, buildHandler(`src.${n}`, hstr, `dst.${n}`)]));
}

async function expectEqual(name: string, orderBy = 'id', cols = '*'): Promise<void> {
  const a = await tableText(db, `src.${name}`, orderBy, cols);
  expect(a.length).toBeGreaterThan(0);
  expect(await tableText(db, `dst.${name}`, orderBy, cols)).toEqual(a);
}

const ODD = [
  "it's",
  'back\\slash',
  "E'x'",
  'a&b=c%d+e f',
  'line\nbreak\ttab',
  'ünï 😀',
  ' where id=1 and ',
  '"q"',
  '',
  '(a,b) values (1)',
];

async function workload(name: string): Promise<void> {
  const stmts: string[] = [];
  for (let i = 1; i <= 40; i++)
    stmts.push(`insert into src.${name} values (${i}, $$${ODD[i % ODD.length]}$$, ${i}, now())`);
  stmts.push(`update src.${name} set v = null where id % 3 = 0`);
  stmts.push(`update src.${name} set n = n * 10 where id % 4 = 0`);
  stmts.push(`delete from src.${name} where id % 5 = 0`);
  stmts.push(`insert into src.${name} values (5, 'again', null, null)`); // delete then insert: replace
  stmts.push(`update src.${name} set v = v || '!' where id = 5`);
  stmts.push(`update src.${name} set ts = null where id = 7`);
  for (const s of stmts) await db.query(s);
}

describe.each([
  ['logutriga', `pgq.logutriga('${Q}')`],
  ['sqltriga', `pgq.sqltriga('${Q}')`],
  ['jsontriga', `pgq.jsontriga('${Q}')`],
])('%s events', (kind, trigger) => {
  it('end with the destination equal to the source, in a few statements', async () => {
    const name = `w_${kind}`;
    await pair(name, '(id bigint primary key, v text, n int, ts timestamptz)', trigger);
    await workload(name);
    const events = await takeBatch(db, Q, C);
    expect(events.length).toBeGreaterThan(60);
    const applier = new SetApplier();
    await applyBatch(client, events, { handlers: handlersFor([name]), applier });
    await expectEqual(name);
    expect(applier.stats.changes).toBe(events.length);
    // sqltriga's partial updates come in a few column sets; logutriga/jsontriga: one each
    expect(applier.stats.statements).toBeLessThanOrEqual(kind === 'sqltriga' ? 6 : 3);
    expect(applier.stats.fallbacks).toBe(0);
  });
});

describe('types and values', () => {
  it('round-trips every common type through each trigger', async () => {
    const ddl = `(id int8 primary key, b bool, n numeric(10,2), f float8, d date, ts timestamp, tz timestamptz,
      iv interval, j jsonb, js json, arr int[], tarr text[], byt bytea, u uuid, c char(3), vc varchar(5), bt bit(3), vb varbit(4), t text)`;
    const names = ['ty_l', 'ty_s', 'ty_j'];
    await pair('ty_l', ddl, `pgq.logutriga('${Q}')`);
    await pair('ty_s', ddl, `pgq.sqltriga('${Q}')`);
    await pair('ty_j', ddl, `pgq.jsontriga('${Q}')`);
    for (const n of names) {
      await db.query(`insert into src.${n} values
        (9007199254740993, true, 12.5, 0.1, '2024-02-29', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05+02',
         '1 day 02:03:04', '{"a":[1,2.50,{"b":null}]}', '{"x": 1.0}', '{1,NULL,3}', '{"a b","c,d",NULL,"e\\"f"}',
         '\\x00ff5c27', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'ab', 'abcde', B'101', B'1', E'\\\\ \\' x'),
        (2, null, null, 'NaN', null, null, null, null, 'null', null, '{}', '{}', '', null, null, null, null, null, null)`);
      await db.query(`update src.${n} set f = '-Infinity', arr = '{{1,2},{3,4}}' where id = 2`);
    }
    const events = await takeBatch(db, Q, C);
    await applyBatch(client, events, { handlers: handlersFor(names), applier: new SetApplier() });
    for (const n of names) await expectEqual(n);
  });

  it('refuses a value too long for a varchar(n) instead of truncating it', async () => {
    await pair('vc', '(id int primary key, v varchar(10))', `pgq.logutriga('${Q}')`);
    await db.query(`alter table dst.vc alter v type varchar(3)`);
    await db.query(`insert into src.vc values (1, 'abcdef')`);
    const events = await takeBatch(db, Q, C);
    const err = await applyBatch(client, events, {
      handlers: handlersFor(['vc']),
      applier: new SetApplier(),
    }).then(
      () => null,
      (e) => e,
    );
    expect(err).toMatchObject({ name: 'LondisteError', kind: 'apply_failed', sqlState: '22001' });
    expect(err.message).toMatch(/^table dst\.vc: value too long/);
  });
});

describe('a destination with rules', () => {
  it('is written without ON CONFLICT (refused there), its rules firing, a key that exists updated', async () => {
    await pair('ru', '(id int primary key, v text)', `pgq.logutriga('${Q}')`);
    await db.query('create table dst.ru_log (id int, v text)');
    await db.query(
      'create rule ru_log as on insert to dst.ru do also insert into dst.ru_log values (new.id, new.v)',
    );
    // replay runs as replica: an ALWAYS rule is one that fires there (and made ON CONFLICT fail)
    await db.query('alter table dst.ru enable always rule ru_log');
    await db.query(`insert into dst.ru values (2, 'stale')`); // as a copy's snapshot may hold it
    await db.query(`insert into src.ru values (1, 'a'), (2, 'b'), (3, 'c')`);
    await db.query(`update src.ru set v = 'b2' where id = 2`);
    await db.query('delete from src.ru where id = 3');
    const events = await takeBatch(db, Q, C);
    const applier = new SetApplier();
    await applyBatch(client, events, { handlers: handlersFor(['ru']), applier });
    await expectEqual('ru');
    // the rule saw the stale row's own insert above, then the replayed insert of the new key 1
    // (3 was inserted and deleted in one batch: collapsed away)
    const log = (await db.query('select id, v from dst.ru_log order by id')).rows;
    expect(log).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'stale' },
    ]);
    expect(applier.stats.fallbacks).toBe(0);
  });
});

describe('columns', () => {
  it('deletes by key even when the destination lacks a column of the deleted row', async () => {
    await pair('dc', '(id int primary key, v text, extra text)', `pgq.logutriga('${Q}')`);
    await db.query('insert into src.dc values (1, $$a$$, $$x$$), (2, $$b$$, $$y$$)');
    await takeBatch(db, Q, C).then((ev) =>
      applyBatch(client, ev, { handlers: handlersFor(['dc']), applier: new SetApplier() }),
    );
    await db.query('alter table dst.dc drop column extra');
    await db.query('delete from src.dc where id = 1');
    const events = await takeBatch(db, Q, C);
    expect(events[0]?.data).toContain('extra=x');
    await applyBatch(client, events, { handlers: handlersFor(['dc']), applier: new SetApplier() });
    expect(await tableText(db, 'dst.dc', 'id')).toEqual(['(2,b)']);
  });
});

describe('key changes', () => {
  it('deletes the old key and writes the new row when the backup row shows the key changed', async () => {
    // With ignore=, an earlier changed column ends the trigger's key check: the key change gets through.
    await pair('kc', '(v text, id int primary key, x text)', `pgq.logutriga('${Q}', 'ignore=x', 'backup')`);
    await db.query(`insert into src.kc values ('a', 1, 'i'), ('b', 2, 'i'), ('c', 3, 'i')`);
    await db.query(`update src.kc set v = 'a2', id = 10 where id = 1`);
    await db.query(`update src.kc set v = 'b2', id = 1 where id = 2`); // the freed key taken again
    await db.query(`update src.kc set v = 'c2', id = 2 where id = 3`);
    await db.query(`update src.kc set v = 'c3' where id = 2`);
    const events = await takeBatch(db, Q, C);
    const keyChanges = events.map(decodeEvent).filter((c) => c.kind === 'row' && c.oldKey);
    expect(keyChanges).toHaveLength(3);
    await applyBatch(client, events, { handlers: handlersFor(['kc']), applier: new SetApplier() });
    await expectEqual('kc', 'id', 't.v, t.id');
  });
});

describe('unique values moved between rows', () => {
  it('falls back to one statement per event for that table and batch', async () => {
    await pair('uq', '(id int primary key, u int unique, v text)', `pgq.logutriga('${Q}')`);
    await pair('other', '(id int primary key, v text)', `pgq.logutriga('${Q}')`);
    await db.query(`insert into src.uq select i, i, 'x' from generate_series(1, 5) i`);
    await db.query(`insert into src.other values (1, 'o')`);
    await takeBatch(db, Q, C).then((ev) =>
      applyBatch(client, ev, { handlers: handlersFor(['uq', 'other']), applier: new SetApplier() }),
    );
    // swap u of rows 1 and 2 through a free value, as a provider has to
    await db.query('update src.uq set u = 100 where id = 1');
    await db.query('update src.uq set u = 1 where id = 2');
    await db.query('update src.uq set u = 2 where id = 1');
    await db.query(`update src.other set v = 'p' where id = 1`);
    const events = await takeBatch(db, Q, C);
    const applier = new SetApplier();
    await applyBatch(client, events, { handlers: handlersFor(['uq', 'other']), applier });
    expect(applier.stats.fallbacks).toBe(1);
    await expectEqual('uq');
    await expectEqual('other');
  });
});

describe('order barriers', () => {
  const ev = (id: bigint, type: string, data: string): PgqEvent => ({
    id,
    time: new Date(),
    txid: 1n,
    retry: null,
    type,
    data,
    extra1: 'src.raw',
    extra2: null,
    extra3: null,
    extra4: null,
  });

  it('applies a sqltriga fragment it cannot parse as SQL, in event order', async () => {
    await db.query('create table dst.raw (id int primary key, n int, v text)');
    const applier = new SetApplier();
    const events = [
      ev(1n, 'I', `(id,n,v) values ('1','1','a')`),
      ev(2n, 'I', `(id,n,v) values ('2','1','a')`),
      ev(3n, 'U', `n=n+10 where id='1'`), // an expression: kept as SQL
      ev(4n, 'U', `v='b' where id='1'`),
      ev(5n, 'U', `n='7' where id='2'`),
      ev(6n, 'U', `n=n*2 where id='2'`),
    ];
    const handlers = new Map([['src.raw', buildHandler('src.raw', null, 'dst.raw')]]);
    await applyBatch(client, events, { handlers, applier });
    expect(await tableText(db, 'dst.raw', 'id')).toEqual(['(1,11,b)', '(2,14,a)']);
  });

  it('flushes at any point without changing the result', async () => {
    await pair('fl', '(id bigint primary key, v text, n int, ts timestamptz)', `pgq.logutriga('${Q}')`);
    await workload('fl');
    const events = await takeBatch(db, Q, C);
    const applier = new SetApplier({ maxPending: 7 });
    await applyBatch(client, events, {
      handlers: handlersFor(['fl']),
      applier,
      barrier: (_e, i) => i % 5 === 0,
    });
    await expectEqual('fl');
  });

  it('the first chunk after an idle pipeline is small, the chunks written behind it full size', async () => {
    await db.query('create table dst.ramp (id int primary key, v text)');
    const applier = new SetApplier({ maxPending: 1500 });
    let next = 0;
    /** Adds changes until the table's buffer says it is full; how many it took. */
    const fill = () => {
      for (let n = 1; ; n++) {
        const row = emptyRow<Record<string, string | null>>();
        row.id = String(++next);
        row.v = 'x';
        const change: TableChange = {
          kind: 'row',
          evId: BigInt(next),
          table: 'src.ramp',
          op: 'I',
          row,
          key: null,
          partial: false,
        };
        if (applier.add('dst.ramp', change)) return n;
      }
    };
    await client.query('begin');
    try {
      expect(fill()).toBe(1000);
      await applier.flushBehind(client, 'dst.ramp');
      expect(fill()).toBe(1500);
      await applier.flushBehind(client, 'dst.ramp');
      await applier.flush(client); // the pipeline is idle again: the next first chunk is small
      expect(fill()).toBe(1000);
      await applier.flush(client);
      expect((await client.query('select count(*)::int as n from dst.ramp')).rows[0].n).toBe(3500);
    } finally {
      await client.query('rollback');
    }
  });

  it('truncates the destination in order, or ignores it with ignore_truncate=1', async () => {
    await pair('tr', '(id int primary key)', `pgq.logutriga('${Q}')`);
    await db.query('create table dst.tr_keep (id int primary key)');
    await db.query('insert into src.tr values (1), (2)');
    await db.query('truncate src.tr');
    await db.query('insert into src.tr values (3)');
    const events = await takeBatch(db, Q, C);
    await applyBatch(client, events, { handlers: handlersFor(['tr']), applier: new SetApplier() });
    expect(await tableText(db, 'dst.tr', 'id')).toEqual(['(3)']);
    const keep = new Map([['src.tr', buildHandler('src.tr', 'londiste(ignore_truncate=1)', 'dst.tr_keep')]]);
    await applyBatch(client, events, { handlers: keep, applier: new SetApplier() });
    expect(await tableText(db, 'dst.tr_keep', 'id')).toEqual(['(1)', '(2)', '(3)']);
  });
});

describe('errors the table causes', () => {
  /** Applies `good` and `bad` in one transaction: bad must fail alone, good must still be written. */
  async function isolate(setup: string[], dml: string[], badTable: string): Promise<any> {
    for (const s of setup) await db.query(s);
    for (const s of dml) await db.query(s);
    const events = await takeBatch(db, Q, C);
    const applier = new SetApplier();
    const handlers = handlersFor(['good', badTable]);
    const ctx = contextFor(client, applier);
    await client.query('begin');
    let failure: any = null;
    try {
      for (const e of events) await handlers.get(e.extra1!)!.processEvent(e, ctx);
      try {
        await handlers.get(`src.${badTable}`)!.flush(ctx);
      } catch (err) {
        failure = err;
      }
      expect(applier.pendingCount(`dst.${badTable}`)).toBe(0);
      await handlers.get('src.good')!.flush(ctx);
      await client.query('commit');
    } catch (err) {
      await client.query('rollback');
      throw err;
    }
    expect((await tableText(db, 'dst.good', 'id')).length).toBeGreaterThan(0);
    await expectEqual('good');
    expect((await db.query(`select count(*)::int as n from dst.${badTable}`)).rows[0].n).toBe(0);
    await db.query(`drop table src.${badTable}, dst.${badTable}, src.good, dst.good`);
    return failure;
  }

  const good = [
    'create table src.good (id int primary key, v text)',
    'create table dst.good (id int primary key, v text)',
    `create trigger t after insert or update or delete on src.good for each row execute procedure pgq.logutriga('${Q}')`,
  ];
  const src = (ddl: string) => [
    `create table src.bad ${ddl}`,
    `create trigger t after insert or update or delete on src.bad for each row execute procedure pgq.logutriga('${Q}')`,
  ];
  const dml = [
    `insert into src.good values (1, 'g')`,
    `insert into src.bad values (1, 'x')`,
    `insert into src.good values (2, 'h')`,
  ];

  it.each([
    [
      'a missing column',
      '(id int primary key, w text)',
      '42703',
      /^table dst\.bad, column v: no such column/,
    ],
    ['no unique key for the upsert', '(id int, v text)', '42P10', /^table dst\.bad: there is no unique/],
    [
      'a value the type refuses',
      '(id int primary key, v int)',
      '22P02',
      /^table dst\.bad: invalid input syntax/,
    ],
    [
      'a NOT NULL column the event lacks',
      '(id int primary key, v text, z int not null)',
      '23502',
      /column z/,
    ],
    [
      'a check constraint',
      '(id int primary key, v text check (v <> $$x$$))',
      '23514',
      /violates check constraint/,
    ],
  ])('%s', async (_what, dstDdl, code, msg) => {
    const err = await isolate(
      [...good, ...src('(id int primary key, v text)'), `create table dst.bad ${dstDdl}`],
      dml,
      'bad',
    );
    expect(err).toMatchObject({ name: 'LondisteError', kind: 'apply_failed', sqlState: code });
    expect(err.message).toMatch(msg);
  });

  it('a chunk written behind (flushBehind) that fails names its own table, even when it surfaces later', async () => {
    for (const s of [
      ...good,
      ...src('(id int primary key, v text)'),
      // a value only the server refuses: the chunk fails while it is written, not while planned
      "create table dst.bad (id int primary key, v text check (v <> 'x'))",
    ])
      await db.query(s);
    await db.query(`insert into src.bad select g, 'x' from generate_series(1, 2) g`);
    await db.query(`insert into src.good select g, 'g' from generate_series(1, 5) g`);
    const events = await takeBatch(db, Q, C);
    // Chunks of 2: the bad table's chunks go out behind while the good table's events are decoded.
    const applier = new SetApplier({ maxPending: 2 });
    const handlers = handlersFor(['good', 'bad']);
    const ctx = contextFor(client, applier);
    await client.query('begin');
    let failure: any = null;
    try {
      for (const e of events) {
        // the bad table's one chunk is behind; its error comes out of a good table's event
        if (e.extra1 === 'src.good') failure = { whileHandling: 'src.good' };
        await handlers.get(e.extra1!)!.processEvent(e, ctx);
      }
      await handlers.get('src.good')!.flush(ctx);
    } catch (err) {
      expect(failure).toEqual({ whileHandling: 'src.good' });
      failure = err;
    } finally {
      await client.query('rollback');
      applier.reset();
    }
    expect(failure).toMatchObject({ kind: 'apply_failed', sqlState: '23514', applyTable: 'dst.bad' });
    expect(failedApplyTable(failure)).toBe('dst.bad');
    await db.query('drop table src.bad, dst.bad, src.good, dst.good');
  });

  it('chunks written behind end with the destination equal to the source', async () => {
    await pair('behind', '(id bigint primary key, v text, n int, ts timestamptz)', `pgq.logutriga('${Q}')`);
    await db.query(`insert into src.behind select g, 'v' || g, g, now() from generate_series(1, 50) g`);
    await db.query(`update src.behind set n = n + 1 where id % 2 = 0`);
    await db.query(`delete from src.behind where id % 7 = 0`);
    const events = await takeBatch(db, Q, C);
    const applier = new SetApplier({ maxPending: 3 });
    await applyBatch(client, events, { handlers: handlersFor(['behind']), applier });
    await expectEqual('behind');
    expect(applier.stats.changes).toBe(events.length);
  });

  it('a missing destination table', async () => {
    for (const s of [...good, ...src('(id int primary key, v text)')]) await db.query(s);
    for (const s of dml) await db.query(s);
    const events = await takeBatch(db, Q, C);
    const err = await applyBatch(client, events, {
      handlers: handlersFor(['good', 'bad']),
      applier: new SetApplier(),
    }).then(
      () => null,
      (e) => e,
    );
    expect(err).toMatchObject({
      kind: 'apply_failed',
      sqlState: '42P01',
      message: 'table dst.bad: does not exist on this node',
    });
    await db.query('drop table src.bad, src.good, dst.good');
  });

  it('re-reads the table after a failure (the definition was fixed)', async () => {
    await pair('fix', '(id int primary key, v text)', `pgq.logutriga('${Q}')`);
    await db.query('alter table dst.fix drop column v');
    await db.query(`insert into src.fix values (1, 'a')`);
    const events = await takeBatch(db, Q, C);
    const applier = new SetApplier();
    const handlers = handlersFor(['fix']);
    await expect(applyBatch(client, events, { handlers, applier })).rejects.toMatchObject({
      sqlState: '42703',
    });
    await db.query('alter table dst.fix add column v text');
    await applyBatch(client, events, { handlers, applier });
    await expectEqual('fix');
  });

  it('passes a lost connection through unchanged', async () => {
    await pair('conn', '(id int primary key, v text)', `pgq.logutriga('${Q}')`);
    await db.query(`insert into src.conn values (1, 'a')`);
    const events = await takeBatch(db, Q, C);
    const victim = await db.connect();
    const pid = (await victim.query('select pg_backend_pid() as p')).rows[0].p;
    const applier = new SetApplier();
    const h = buildHandler('src.conn', null, 'dst.conn');
    const ctx = contextFor(victim, applier);
    for (const e of events) await h.processEvent(e, ctx);
    await db.query('select pg_terminate_backend($1)', [pid]);
    const err = await h.flush(ctx).then(
      () => null,
      (e) => e,
    );
    expect(err).not.toBeNull();
    expect(err.name).not.toBe('LondisteError');
  });
});

describe('inserts by COPY', () => {
  /** logutriga-shaped events for table src.<name> (key id). */
  const evs = (name: string, rows: [op: 'I' | 'U' | 'D', row: Record<string, string | null>][]) =>
    rows.map(
      ([op, row], i): PgqEvent => ({
        id: BigInt(i + 1),
        time: new Date(),
        txid: BigInt(i + 1),
        retry: null,
        type: `${op}:id`,
        data: dbUrlencode(row),
        extra1: `src.${name}`,
        extra2: null,
        extra3: null,
        extra4: null,
      }),
    );
  const rowsOf = async (table: string) =>
    (await db.query(`select id::text, v from ${table} order by id`)).rows.map((r) => [r.id, r.v]);

  it('writes new keys by COPY (odd values and NULL included), an existing key by the upsert, a table with a replica trigger by the upsert', async () => {
    await db.query('create table dst.cp (id bigint primary key, v text)');
    await db.query("insert into dst.cp values (2, 'old')");
    await db.query('create table dst.cp_trg (id bigint primary key, v text)');
    await db.query(`create function dst.mark_v() returns trigger language plpgsql as $$
      begin new.v := new.v || '!'; return new; end $$`);
    await db.query(
      'create trigger up before insert on dst.cp_trg for each row execute function dst.mark_v()',
    );
    await db.query('alter table dst.cp_trg enable replica trigger up');
    // a leaf's deny trigger is an ordinary (origin) trigger: it does not fire in replay, nor stop COPY
    await db.query(`create function dst.deny() returns trigger language plpgsql as $$
      begin raise exception 'no local writes'; end $$`);
    await db.query('create trigger deny before insert on dst.cp for each row execute function dst.deny()');
    for (const t of ['cp', 'cp_trg']) {
      const applier = new SetApplier();
      const events = evs(t, [
        ['I', { id: '1', v: ODD.join('|') }],
        ['I', { id: '2', v: 'replaced' }], // exists in dst.cp: the COPY conflicts, the upsert writes it
        ['I', { id: '3', v: null }],
        ['I', { id: '4', v: '\\.' }],
        ['U', { id: '3', v: 'three' }],
        ['I', { id: '5', v: 'five' }],
        ['D', { id: '5', v: 'five' }],
      ]);
      await applyBatch(client, events, {
        handlers: new Map([[`src.${t}`, buildHandler(`src.${t}`, null, `dst.${t}`)]]),
        applier,
      });
      expect(applier.stats.fallbacks).toBe(0);
      expect(applier.stats.copies, t).toBe(t === 'cp' ? 1 : 0); // cp: the COPY conflicted on 2, then the upsert
      const v = (s: string) => (t === 'cp_trg' ? `${s}!` : s); // the replica trigger fired
      expect(await rowsOf(`dst.${t}`)).toEqual([
        ['1', v(ODD.join('|'))],
        ['2', v('replaced')],
        ['3', v('three')], // I then U of one key: one insert
        ['4', v('\\.')],
      ]);
    }
  });
});
