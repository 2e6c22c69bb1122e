// How fast the set-based apply writes (decode + collapse + statements, one transaction per batch,
// session_replication_role = replica) the workload: 50 % updates by random existing pk,
// 50 % inserts, on (id bigint primary key, v text, n int, ts timestamptz). Events are built in
// logutriga's format (the triggers' own speed is bench/triggers.ts's business). Prints the rate;
// asserts only that the table ends as the events say — timings never gate a test.
import os from 'node:os';
import type pg from 'pg';
import { beforeAll, expect, it } from 'vitest';
import { SetApplier } from '../../layers/londiste/apply/applier.ts';
import { buildHandler } from '../../layers/londiste/handlers/index.ts';
import { dbUrlencode } from '../../layers/londiste/urlenc.ts';
import type { PgqEvent } from '../../layers/pgq/consumer.ts';
import { useTestDatabase } from '../support/db.ts';
import { applyBatch } from './fixtures/trigger-events.ts';

const db = useTestDatabase();
const BASE_ROWS = 200_000;
const EVENTS = Number(process.env.LONDISTE_APPLY_EVENTS ?? 100_000);
let client: pg.Client;

beforeAll(async () => {
  await db.query('create table public.rate (id bigint primary key, v text, n int, ts timestamptz)');
  await db.query(
    `insert into public.rate select i, md5(i::text), i, now() from generate_series(1, ${BASE_ROWS}) i`,
  );
  await db.query('vacuum analyze public.rate');
  client = await db.connect();
});

it.each([2_000, 20_000])(
  'applies half updates by pk, half inserts, in batches of %i events',
  async (batchSize) => {
    const offset = (await db.one('select max(id) as m from public.rate')).m as bigint;
    let next = Number(offset);
    let seed = batchSize;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const expected = new Map<number, string>();
    const ts = '2026-12-01 11:30:15.139107+00';
    const events: PgqEvent[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const upd = i % 2 === 0;
      const id = upd ? 1 + Math.floor(rand() * BASE_ROWS) : ++next;
      const v = `value ${i} & more`;
      expected.set(id, v);
      events.push({
        id: BigInt(i + 1),
        time: new Date(),
        txid: BigInt(i + 1),
        retry: null,
        type: upd ? 'U:id' : 'I:id',
        data: dbUrlencode({ id, v, n: i, ts }),
        extra1: 'public.rate',
        extra2: null,
        extra3: null,
        extra4: null,
      });
    }
    const applier = new SetApplier();
    const handlers = new Map([['public.rate', buildHandler('public.rate', null)]]);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < events.length; i += batchSize) {
      await applyBatch(client, events.slice(i, i + batchSize), { handlers, applier });
    }
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const nodeSecs = (cpu.user + cpu.system) / 1e6;
    // The same amount of writing done by the server alone (no events, no client-side work), right
    // after: on a shared machine the ratio says more than the rate.
    const b0 = performance.now();
    await client.query('begin');
    await client.query(
      `update public.rate t set v = 'b' || g, n = g from generate_series(1, $1::int) g
        where t.id = 1 + (g * 7919) % $2::int`,
      [EVENTS / 2, BASE_ROWS],
    );
    await client.query(
      `insert into public.rate select g, 'b' || g, g, now() from generate_series($1::int8 + 1, $1::int8 + $2::int) g`,
      [next + 1_000_000, EVENTS / 2],
    );
    await client.query('rollback');
    const base = (performance.now() - b0) / 1000;
    console.log(
      `londiste apply: ${EVENTS} events in batches of ${batchSize}: ${secs.toFixed(2)} s = ` +
        `${Math.round(EVENTS / secs)} events/s (${applier.stats.statements} statements, ${nodeSecs.toFixed(2)} s of it Node CPU); ` +
        `the server alone: ` +
        `${base.toFixed(2)} s = ${Math.round(EVENTS / base)} rows/s (apply/server ${(secs / base).toFixed(2)}); ` +
        `load average ${os.loadavg()[0]!.toFixed(1)}`,
    );
    expect(applier.stats.changes).toBe(EVENTS);
    expect(applier.stats.fallbacks).toBe(0);
    const r = await db.one<{ n: number }>('select count(*)::int as n from public.rate where id > $1', [
      offset,
    ]);
    expect(r.n).toBe(EVENTS / 2);
    const sample = [...expected.entries()].slice(0, 2000);
    const got = await db.query<{ id: bigint; v: string }>(
      'select id, v from public.rate where id = any($1::int8[])',
      [sample.map(([id]) => String(id))],
    );
    expect(new Map(got.rows.map((x) => [Number(x.id), x.v]))).toEqual(new Map(sample));
  },
);
