// The consumer function's linger (layers/pgq/lambda/linger.ts): after its last batch the drain
// waits for the queue's next tick, announced by the ticker's NOTIFY on the drain's connection, and
// takes that batch in the same invocation. Real PostgreSQL and the real ticker loop (each tick a
// NOTIFY, as in Lambda); the invocations get hand-made SQS events, so a batch taken by an
// invocation whose wake-up was for an earlier tick needed no SQS message of its own.
import type { SQSEvent } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseSource } from '../../layers/aws/database.ts';
import { typeParsers } from '../../layers/db/connection.ts';
import { registerConsumer } from '../../layers/pgq/index.ts';
import { CONSUMER_SETTINGS, type ConsumerDeps, drainOnWakeup } from '../../layers/pgq/lambda/index.ts';
import { newTickerStats, runTicker } from '../../layers/pgq/ticker.ts';
import { useTestDatabase } from '../support/db.ts';
import { fakeContext } from '../support/sqs.ts';

const db = useTestDatabase();
const stop = new AbortController();
const stats = newTickerStats();
let ticker: Promise<unknown>;
let deps: ConsumerDeps;
let ticks = 0;

beforeAll(async () => {
  // A queue at its default settings: the ticker ticks committed events at once (pgq.ticker_poll).
  await db.query("select pgq.create_queue('lg_q')");
  await db.query('create table lg_sink (seq bigserial, batch_id bigint, ev_data text)');
  const c = await db.pool.connect();
  try {
    await registerConsumer(c, 'lg_q', 'lg');
  } finally {
    c.release();
  }
  const settings = CONSUMER_SETTINGS.load({
    env: { DATABASE_URL: db.url, PGQ_QUEUE: 'lg_q', PGQ_CONSUMER: 'lg', PGQ_MIN_REMAINING: '1' },
  }).values;
  deps = { settings, db: new DatabaseSource(settings) };
  ticker = runTicker({
    connect: async () => {
      const t = new pg.Client({ connectionString: db.url, types: typeParsers });
      await t.connect();
      return t;
    },
    stats,
    signal: stop.signal,
    onTick: (ev) => {
      if (ev.queue === 'lg_q') ticks++;
    },
  });
  while (!(stats.ran && stats.tickerCalls > 0)) await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  stop.abort();
  await ticker;
  await deps?.db.end();
});

let produced: string[] = [];
let n = 0;

/** Commits `count` events in one transaction; resolves once the ticker has ticked them. */
async function produce(count: number): Promise<string[]> {
  const before = ticks;
  const vals = Array.from({ length: count }, () => `e${n++}`);
  await db.query(
    "select pgq.insert_event('lg_q', 'ev', d) from unnest($1::text[]) with ordinality as t(d, o) order by o",
    [vals],
  );
  produced.push(...vals);
  for (let i = 0; i < 250 && ticks === before; i++) await new Promise((r) => setTimeout(r, 20));
  expect(ticks).toBeGreaterThan(before);
  return vals;
}

/** The SQS event of `count` wake-up messages (duplicates of each other when count > 1). */
function wakeup(count = 1): SQSEvent {
  return {
    Records: Array.from({ length: count }, (_, i) => ({
      messageId: `m${n}-${i}`,
      receiptHandle: `r${n}-${i}`,
      body: JSON.stringify({
        type: 'pgq.wakeup',
        database: '',
        queue: 'lg_q',
        consumer: 'lg',
        tickId: '0',
        reason: 'tick',
      }),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'test',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
        MessageGroupId: 'lg',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:lg.fifo',
      awsRegion: 'us-east-1',
    })),
  };
}

let lastBatchAt = 0;
const sinkHandler = async (
  batch: Parameters<Parameters<typeof drainOnWakeup>[2]['handler']>[0],
  tx: pg.ClientBase,
) => {
  for (const ev of batch.events) {
    await tx.query('insert into lg_sink (batch_id, ev_data) values ($1, $2)', [batch.batchId, ev.data]);
    ev.tagDone();
  }
  lastBatchAt = performance.now();
};

async function sink(): Promise<string[]> {
  const r = await db.query<{ ev_data: string }>('select ev_data from lg_sink order by seq');
  return r.rows.map((x) => x.ev_data);
}

// When the drain last sent LISTEN: it does so only when it first lingers (linger.ts). Seen by
// wrapping pg's query in this test file only (vitest isolates each file's modules).
let listenedAt = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  if (typeof args[0] === 'string' && /^listen /i.test(args[0])) listenedAt = performance.now();
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

/**
 * Resolves once the drain lingers: it has sent LISTEN, and a little more for the one look it
 * takes after the LISTEN. A fixed delay after the batch is not enough on a loaded machine: the
 * late events would be ticked before the drain is done with the batch, and the drain would take
 * them without lingering.
 */
async function lingering(): Promise<void> {
  const since = performance.now();
  for (let i = 0; i < 500 && listenedAt < since; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
}

describe('the drain lingers for the next tick', () => {
  it('takes an event committed while it lingers in the same invocation, then returns about a linger after its last batch', async () => {
    await produce(20);
    let late: Promise<string[]> | null = null;
    const started = performance.now();
    const res = await drainOnWakeup(
      wakeup(),
      fakeContext(30_000),
      {
        lingerMs: 1000,
        handler: async (batch, tx) => {
          await sinkHandler(batch, tx);
          // Committed while the drain waits: no wake-up is ever delivered for it.
          late ??= lingering().then(() => produce(3));
        },
      },
      deps,
    );
    const returned = performance.now();
    await late;
    expect(res.stopped).toBe('empty');
    expect(res.response.batchItemFailures).toEqual([]);
    // (An empty batch may come first: the ticker's first tick.)
    expect(res.batches.map((b) => b.events).filter((e) => e > 0)).toEqual([20, 3]);
    expect(res.lingerWakes).toBeGreaterThanOrEqual(1);
    expect(await sink()).toEqual(produced);
    // After the last batch it waited one linger (1 s) for another tick, and no more.
    expect(returned - lastBatchAt).toBeGreaterThan(900);
    expect(returned - lastBatchAt).toBeLessThan(2500);
    expect(returned - started).toBeLessThan(5000);
  });

  it('never lingers past min_remaining: returns within the invocation time it was given', async () => {
    await produce(30);
    const t0 = performance.now();
    // 1.5 s left, min_remaining 1 s: 0.5 s to work and linger in, however long the linger.
    const res = await drainOnWakeup(
      wakeup(),
      fakeContext(1500),
      { lingerMs: 10_000, handler: sinkHandler },
      deps,
    );
    const took = performance.now() - t0;
    expect(res.batches.map((b) => b.events)).toEqual([30]);
    expect(res.stopped).toBe('empty');
    expect(took).toBeLessThan(1000);
    expect(await sink()).toEqual(produced);
  });

  it('a lost wake-up and duplicate ones lose nothing and apply nothing twice', async () => {
    await produce(4); // its wake-up is lost: no invocation for this tick
    await produce(5);
    // The next wake-up, delivered twice in one invocation (SQS at-least-once), takes both ticks.
    const first = await drainOnWakeup(
      wakeup(2),
      fakeContext(30_000),
      { lingerMs: 300, handler: sinkHandler },
      deps,
    );
    expect(first.batches.reduce((s, b) => s + b.events, 0)).toBe(9);
    expect(first.response.batchItemFailures).toEqual([]);
    // Redelivered again later: nothing left, and a drain that found nothing does not linger.
    const t0 = performance.now();
    const again = await drainOnWakeup(
      wakeup(),
      fakeContext(30_000),
      { lingerMs: 5000, handler: sinkHandler },
      deps,
    );
    expect(again.batches).toEqual([]);
    expect(again.lingeredMs ?? 0).toBe(0);
    expect(performance.now() - t0).toBeLessThan(1000);
    const rows = await sink();
    expect(rows).toEqual(produced);
    expect(new Set(rows).size).toBe(rows.length);
  });

  it('does not linger after a batch whose rate brings no event within the linger (a quiet queue)', async () => {
    await new Promise((r) => setTimeout(r, 400));
    // One event ~0.4 s after the previous tick, at the default 50 ms linger: 1 × 50 ms < 2 × 400 ms.
    await produce(1);
    const t0 = performance.now();
    const res = await drainOnWakeup(wakeup(), fakeContext(30_000), { handler: sinkHandler }, deps);
    expect(res.batches.map((b) => b.events)).toEqual([1]);
    expect(res.lingerWakes).toBe(0);
    expect(res.lingeredMs).toBe(0);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await sink()).toEqual(produced);
    produced = [];
    await db.query('truncate lg_sink');
  });
});
