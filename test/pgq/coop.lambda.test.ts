// The Lambda form of the cooperative consumer: the ticker sends one wake-up per subconsumer's
// message group (`<consumer>.<i>`), and consumer function instances — one per message group, as
// SQS FIFO → Lambda runs them — share the consumer's batches through pgq_coop. Real PostgreSQL,
// real SQS messages over HTTP (fauxqs, or AWS_ENDPOINT_URL); handlers invoked directly.
import type { Message } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler as createTickerHandler } from '../../functions/ticker/handler.ts';
import { DatabaseSource } from '../../layers/aws/database.ts';
import { registerConsumer } from '../../layers/pgq/index.ts';
import {
  type ConsumerDeps,
  consumerDeps,
  consumerHandler,
  type PgqConsumerOptions,
  parseWakeupTargets,
  subconsumerNames,
  tickerDeps,
} from '../../layers/pgq/lambda/index.ts';
import { useTestDatabase } from '../support/db.ts';
import { fakeContext, queueArn, type SqsEndpoint, sqsEvent, startSqs } from '../support/sqs.ts';

const db = useTestDatabase();
let sqs: SqsEndpoint;
let wakeUrl: string;
let arn: string;
const ticker = createTickerHandler();
const GROUPS = ['crew.1', 'crew.2', 'crew.3'];
/** Database sources of the "containers" made below, closed at the end. */
const sources: DatabaseSource[] = [];

beforeAll(async () => {
  sqs = await startSqs();
  wakeUrl = await sqs.fifoQueue('coop-lambda', 3);
  arn = await queueArn(sqs.client, wakeUrl);
  await db.query("select pgq.create_queue('coop_q')");
  await db.query("select pgq.set_queue_config('coop_q', 'ticker_max_lag', '0.01 seconds')");
  await db.query(
    'create table coop_sink (seq bigserial, who text, batch_id bigint, ev_id bigint, ev_data text)',
  );
  // Registered before any event (as PgqConsumerFunction's registration does); the subconsumers
  // join it on first use.
  const c = await db.pool.connect();
  try {
    await registerConsumer(c, 'coop_q', 'crew');
  } finally {
    c.release();
  }
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: sqs.endpoint,
    DATABASE_URL: db.url,
    PGQ_QUEUE: 'coop_q',
    PGQ_CONSUMER: 'crew',
    PGQ_SUBCONSUMERS: '3',
    PGQ_TICK_PERIOD: '0.1',
    PGQ_DEADLINE_MARGIN: '0.5',
    PGQ_MIN_REMAINING: '1',
    PGQ_WAKEUP_TARGETS: JSON.stringify([
      { queue: 'coop_q', consumer: 'crew', queueUrl: wakeUrl, subconsumers: 3 },
    ]),
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
});

afterAll(async () => {
  await tickerDeps().db.end();
  for (const s of sources) await s.end();
  await sqs?.stop();
});

/** A consumer function instance in its own container: own settings, own database connection. */
function instance(handler: PgqConsumerOptions['handler']) {
  return consumerHandler({ handler }, () => {
    const base = consumerDeps();
    const db = new DatabaseSource(base.settings);
    sources.push(db);
    return { ...base, db } as ConsumerDeps & ReturnType<typeof consumerDeps>;
  });
}

/** Applies the batch's events to the sink, taking a little time so the others get batches too. */
const applying: PgqConsumerOptions['handler'] = async (batch, tx) => {
  for (const ev of batch.events) {
    await tx.query('insert into coop_sink (who, batch_id, ev_id, ev_data) values ($1, $2, $3, $4)', [
      batch.consumer,
      batch.batchId,
      ev.id,
      ev.data,
    ]);
    ev.tagDone();
  }
  await new Promise((r) => setTimeout(r, 40));
};

/** One container per message group, as Lambda scales a FIFO queue's event source mapping. */
let workers: Map<string, ReturnType<typeof instance>>;
beforeAll(() => {
  workers = new Map(GROUPS.map((g) => [g, instance(applying)]));
});

async function produce(tag: string, n: number, per = 3): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i += per) {
    const vals = Array.from({ length: Math.min(per, n - i) }, (_, j) => `${tag}-${i + j}`);
    await db.query(
      "select pgq.insert_event('coop_q', 'ev', d) from unnest($1::text[]) with ordinality as t(d, o) order by o",
      [vals],
    );
    out.push(...vals);
  }
  return out;
}

/** Every message visible now (SQS FIFO hides a group's later messages while earlier ones are in flight). */
async function receiveAll(): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const msgs = await sqs.receive(wakeUrl, 0);
    if (msgs.length === 0) return all;
    all.push(...msgs);
  }
}

function byGroup(msgs: Message[]): Map<string, Message[]> {
  const out = new Map<string, Message[]>();
  for (const m of msgs) {
    const g = m.Attributes?.MessageGroupId ?? '';
    out.set(g, [...(out.get(g) ?? []), m]);
  }
  return out;
}

/** What the event source mapping does, all groups at once; until no wake-up is left. */
async function deliverAll(): Promise<SQSBatchResponse[]> {
  const responses: SQSBatchResponse[] = [];
  for (;;) {
    const msgs = await receiveAll();
    if (msgs.length === 0) return responses;
    await Promise.all(
      [...byGroup(msgs)].map(async ([group, ms]) => {
        const fn = workers.get(group)!;
        const res = (await fn(sqsEvent(ms, arn), fakeContext(30_000, group))) as SQSBatchResponse;
        responses.push(res);
        await sqs.deleteDone(
          wakeUrl,
          ms,
          res.batchItemFailures.map((f) => f.itemIdentifier),
        );
      }),
    );
  }
}

async function sink(): Promise<{ who: string; batch_id: string; ev_data: string }[]> {
  return (await db.query('select who, batch_id::text, ev_data from coop_sink order by seq')).rows;
}

describe('cooperative consumer functions', () => {
  it('parses subconsumer wake-up targets, backward compatible', () => {
    expect(parseWakeupTargets('[{"queue":"q","consumer":"c","queueUrl":"u"}]')).toEqual([
      { queue: 'q', consumer: 'c', queueUrl: 'u' },
    ]);
    expect(parseWakeupTargets('[{"queue":"q","consumer":"c","queueUrl":"u","subconsumers":3}]')).toEqual([
      { queue: 'q', consumer: 'c', queueUrl: 'u', subconsumers: 3 },
    ]);
    expect(() =>
      parseWakeupTargets('[{"queue":"q","consumer":"c","queueUrl":"u","subconsumers":0}]'),
    ).toThrow(/subconsumers must be a positive integer/);
    expect(subconsumerNames(1)).toBeNull();
    expect(subconsumerNames(3)).toEqual(['1', '2', '3']);
    expect(subconsumerNames(['a', 'b'])).toEqual(['a', 'b']);
  });

  it('the ticker wakes every subconsumer, and concurrent instances apply every event exactly once, each batch by one subconsumer', async () => {
    const produced: string[] = [];
    const traffic = (async () => {
      for (let r = 0; r < 8; r++) {
        produced.push(...(await produce(`a${r}`, 6)));
        await new Promise((res) => setTimeout(res, 120));
      }
    })();
    const out = await ticker({}, fakeContext(2_000, 'ticker'));
    await traffic;
    // Events that landed after the last tick: one more run covers them.
    const out2 = await ticker({}, fakeContext(1_200, 'ticker'));
    expect(out.ran && out2.ran).toBe(true);
    expect(out.ticks).toBeGreaterThan(1);
    // One wake-up per tick per subconsumer.
    expect(out.wakeupsSent).toBe(out.ticks * 3);
    expect(out2.wakeupsSent).toBe(out2.ticks * 3);

    const msgs = await receiveAll();
    const groups = byGroup(msgs);
    expect([...groups.keys()].sort()).toEqual(GROUPS);
    for (const [g, ms] of groups) {
      for (const m of ms) {
        const body = JSON.parse(m.Body!);
        expect(body).toMatchObject({ type: 'pgq.wakeup', queue: 'coop_q', consumer: 'crew', reason: 'tick' });
        expect(`crew.${body.subconsumer}`).toBe(g);
      }
    }
    // The first tick's wake-ups: one per message group.
    const firstTick = JSON.parse(msgs[0]!.Body!).tickId;
    const ofTick = msgs.filter((m) => JSON.parse(m.Body!).tickId === firstTick);
    expect(ofTick.map((m) => m.Attributes?.MessageGroupId).sort()).toEqual(GROUPS);

    // All three instances at once, each with its group's messages.
    const first = await Promise.all(
      [...groups].map(async ([g, ms]) => {
        const res = (await workers.get(g)!(sqsEvent(ms, arn), fakeContext(30_000, g))) as SQSBatchResponse;
        await sqs.deleteDone(wakeUrl, ms);
        return res;
      }),
    );
    expect(first.every((r) => r.batchItemFailures.length === 0)).toBe(true);
    const rest = await deliverAll();
    expect(rest.every((r) => r.batchItemFailures.length === 0)).toBe(true);

    const rows = await sink();
    expect(rows.map((r) => r.ev_data).sort()).toEqual([...produced].sort());
    expect(new Set(rows.map((r) => r.ev_data)).size).toBe(produced.length);
    const whoByBatch = new Map<string, Set<string>>();
    for (const r of rows) whoByBatch.set(r.batch_id, (whoByBatch.get(r.batch_id) ?? new Set()).add(r.who));
    expect([...whoByBatch.values()].every((s) => s.size === 1)).toBe(true);
    // The batches were shared: more than one subconsumer did work.
    expect(new Set(rows.map((r) => r.who)).size).toBeGreaterThan(1);
    expect(GROUPS).toEqual(expect.arrayContaining([...new Set(rows.map((r) => r.who))]));
    // All three registered as subconsumers of crew, none holding a batch.
    const subs = await db.query<{ consumer_name: string; current_batch: string | null }>(
      "select consumer_name, current_batch from pgq.get_consumer_info('coop_q') where consumer_name like 'crew.%' order by 1",
    );
    expect(subs.rows).toEqual(GROUPS.map((g) => ({ consumer_name: g, current_batch: null })));
  });

  it("a failing subconsumer's wake-ups are reported failed, and its batch is handed out to it again", async () => {
    await db.query('truncate coop_sink');
    const produced = await produce('f', 9);
    const out = await ticker({}, fakeContext(1_200, 'ticker'));
    expect(out.ticks).toBeGreaterThan(0);
    const groups = byGroup(await receiveAll());
    expect([...groups.keys()].sort()).toEqual(GROUPS);

    let failedBatch: bigint | undefined;
    const failing = instance(async (batch) => {
      failedBatch = batch.batchId;
      throw new Error('downstream unavailable');
    });
    const mine = groups.get('crew.2')!;
    const res = (await failing(sqsEvent(mine, arn), fakeContext(30_000, 'crew.2'))) as SQSBatchResponse;
    expect(failedBatch).toBeDefined();
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      mine.map((m) => m.MessageId!).sort(),
    );
    await sqs.deleteDone(
      wakeUrl,
      mine,
      res.batchItemFailures.map((f) => f.itemIdentifier),
    );
    // The batch stays parked on crew.2: the other subconsumers do not get it.
    const others = await Promise.all(
      ['crew.1', 'crew.3'].map(async (g) => {
        const ms = groups.get(g)!;
        const r = (await workers.get(g)!(sqsEvent(ms, arn), fakeContext(30_000, g))) as SQSBatchResponse;
        await sqs.deleteDone(wakeUrl, ms);
        return r;
      }),
    );
    expect(others.every((r) => r.batchItemFailures.length === 0)).toBe(true);
    expect((await sink()).filter((r) => r.batch_id === String(failedBatch))).toEqual([]);
    const parked = await db.one<{ current_batch: string | null }>(
      "select current_batch::text from pgq.get_consumer_info('coop_q', 'crew.2')",
    );
    expect(parked.current_batch).toBe(String(failedBatch));

    // SQS redelivers crew.2's wake-ups after the visibility timeout; the working instance then
    // gets the same batch.
    let again: Message[] = [];
    for (let i = 0; i < 20 && again.length === 0; i++) {
      again = (await sqs.receive(wakeUrl, 1)).filter((m) => m.Attributes?.MessageGroupId === 'crew.2');
    }
    expect(again.map((m) => m.MessageId)).toContain(mine[0]!.MessageId);
    const ok = (await workers.get('crew.2')!(
      sqsEvent(again, arn),
      fakeContext(30_000, 'crew.2'),
    )) as SQSBatchResponse;
    expect(ok.batchItemFailures).toEqual([]);
    await sqs.deleteDone(wakeUrl, again);
    await deliverAll();

    const rows = await sink();
    expect(rows.map((r) => r.ev_data).sort()).toEqual([...produced].sort());
    const redone = rows.filter((r) => r.batch_id === String(failedBatch));
    expect(redone.length).toBeGreaterThan(0);
    expect(new Set(redone.map((r) => r.who))).toEqual(new Set(['crew.2']));
  });
});
