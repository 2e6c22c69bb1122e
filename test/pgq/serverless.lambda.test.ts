// The deployed path, minus the Lambda service: ticker handler → real SQS messages over HTTP
// (fauxqs, or AWS_ENDPOINT_URL) → consumer handler invoked with those messages, on a real
// PostgreSQL; compared with the long-running consumer on the same queue. Handlers are invoked
// directly with a fake Lambda context.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler as createMaintenanceHandler } from '../../functions/maintenance/handler.ts';
import { createHandler as createTickerHandler } from '../../functions/ticker/handler.ts';
import { processNextBatch, registerConsumer, runConsumer } from '../../layers/pgq/index.ts';
import { consumerDeps, consumerHandler, tickerDeps, tickerRunFor } from '../../layers/pgq/lambda/index.ts';
import { useTestDatabase } from '../support/db.ts';
import { fakeContext, queueArn, type SqsEndpoint, sqsEvent, startSqs } from '../support/sqs.ts';

const db = useTestDatabase();
let sqs: SqsEndpoint;
let wakeUrl: string;
let arn: string;
const ticker = createTickerHandler();
let consumer: ReturnType<typeof consumerHandler>;
const ROOT = path.resolve(import.meta.dirname, '../..');

beforeAll(async () => {
  sqs = await startSqs();
  wakeUrl = await sqs.fifoQueue('fn-lambda', 2);
  arn = await queueArn(sqs.client, wakeUrl);
  await db.query("select pgq.create_queue('fn_q')");
  await db.query("select pgq.set_queue_config('fn_q', 'ticker_max_lag', '0.01 seconds')");
  await db.query('create table fn_sink (seq bigserial, consumer text, ev_id bigint, ev_data text)');
  const c = await db.pool.connect();
  try {
    await registerConsumer(c, 'fn_q', 'lambda');
    await registerConsumer(c, 'fn_q', 'loop');
  } finally {
    c.release();
  }
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: sqs.endpoint,
    DATABASE_URL: db.url,
    PGQ_QUEUE: 'fn_q',
    PGQ_CONSUMER: 'lambda',
    PGQ_TICK_PERIOD: '0.05',
    PGQ_DEADLINE_MARGIN: '0.5',
    PGQ_MIN_REMAINING: '1',
    PGQ_WAKEUP_TARGETS: JSON.stringify([{ queue: 'fn_q', consumer: 'lambda', queueUrl: wakeUrl }]),
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  });
  consumer = consumerHandler({
    handler: async (batch, tx) => {
      for (const ev of batch.events) {
        await tx.query('insert into fn_sink (consumer, ev_id, ev_data) values ($1, $2, $3)', [
          'lambda',
          ev.id,
          ev.data,
        ]);
        ev.tagDone();
      }
    },
  });
});

afterAll(async () => {
  await tickerDeps().db.end();
  await consumerDeps().db.end();
  await sqs?.stop();
});

/** Inserts `n` events in transactions of `per`, returns their data values. */
async function produce(tag: string, n: number, per = 7): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i += per) {
    const vals = Array.from({ length: Math.min(per, n - i) }, (_, j) => `${tag}-${i + j}`);
    await db.query(
      "select pgq.insert_event('fn_q', 'ev', d) from unnest($1::text[]) with ordinality as t(d, o) order by o",
      [vals],
    );
    out.push(...vals);
  }
  return out;
}

/** What Lambda's event source mapping does: receive, invoke, delete the messages not failed. */
async function deliverAll(): Promise<{ invocations: number; responses: SQSBatchResponse[] }> {
  const responses: SQSBatchResponse[] = [];
  for (;;) {
    const msgs = await sqs.receive(wakeUrl, 0);
    if (msgs.length === 0) return { invocations: responses.length, responses };
    const res = (await consumer(sqsEvent(msgs, arn), fakeContext(30_000))) as SQSBatchResponse;
    responses.push(res);
    await sqs.deleteDone(
      wakeUrl,
      msgs,
      res.batchItemFailures.map((f) => f.itemIdentifier),
    );
  }
}

async function sink(who: string): Promise<string[]> {
  const r = await db.query<{ ev_data: string }>(
    'select ev_data from fn_sink where consumer = $1 order by seq',
    [who],
  );
  return r.rows.map((x) => x.ev_data);
}

describe('serverless path', () => {
  it('ticker wakes the consumer through SQS and the consumer function applies every event once, as the long-running consumer does', async () => {
    const produced: string[] = [];
    // Traffic while the ticker runs, so several ticks (and wake-ups) happen.
    const traffic = (async () => {
      for (let r = 0; r < 6; r++) {
        produced.push(...(await produce(`a${r}`, 15)));
        await new Promise((res) => setTimeout(res, 150));
      }
    })();
    const out = await ticker({ time: new Date().toISOString() }, fakeContext(2_500, 'ticker'));
    await traffic;
    expect(out.ran).toBe(true);
    expect(out.ticks).toBeGreaterThan(0);
    expect(out.wakeupsSent).toBe(out.ticks);
    // The last events may have landed after the last tick: one more ticker run covers them.
    const out2 = await ticker({}, fakeContext(1_500, 'ticker'));
    expect(out2.ran).toBe(true);

    const first = await sqs.receive(wakeUrl, 1);
    expect(first.length).toBeGreaterThan(0);
    const body = JSON.parse(first[0]!.Body!);
    expect(body).toMatchObject({ type: 'pgq.wakeup', queue: 'fn_q', consumer: 'lambda', reason: 'tick' });
    expect(first[0]!.Attributes?.MessageGroupId).toBe('lambda');
    const res = (await consumer(sqsEvent(first, arn), fakeContext(30_000))) as SQSBatchResponse;
    expect(res.batchItemFailures).toEqual([]);
    await sqs.deleteDone(wakeUrl, first);
    // The remaining wake-ups are duplicates or late: harmless, nothing left to do.
    const rest = await deliverAll();
    expect(rest.responses.every((r) => r.batchItemFailures.length === 0)).toBe(true);

    const stop = new AbortController();
    const loop = runConsumer({
      pool: db.pool,
      queue: 'fn_q',
      consumer: 'loop',
      loopDelayMs: 50,
      signal: stop.signal,
      handler: async (batch, tx) => {
        for (const ev of batch.events) {
          await tx.query('insert into fn_sink (consumer, ev_id, ev_data) values ($1, $2, $3)', [
            'loop',
            ev.id,
            ev.data,
          ]);
          ev.tagDone();
        }
      },
    });
    for (let i = 0; i < 200 && (await sink('loop')).length < produced.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    stop.abort();
    await loop;

    const viaLambda = await sink('lambda');
    expect(viaLambda).toEqual(produced);
    expect(await sink('loop')).toEqual(viaLambda);
    const info = await db.one(
      "select pending_events, current_batch from pgq.get_consumer_info('fn_q', 'lambda')",
    );
    expect(info.current_batch).toBeNull();
  });

  it('a consumer function killed mid-batch loses nothing once SQS redelivers the wake-up', async () => {
    await db.query('truncate fn_sink');
    const produced = await produce('k', 12, 4);
    const out = await ticker({}, fakeContext(1_500, 'ticker'));
    expect(out.ticks).toBeGreaterThan(0);
    const msgs = await sqs.receive(wakeUrl, 1);
    expect(msgs.length).toBeGreaterThan(0);
    const file = path.join(os.tmpdir(), `skytools-fn-event-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(sqsEvent(msgs, arn)));

    const child = spawn(process.execPath, [path.join(ROOT, 'test/pgq/fixtures/consumer-child.ts'), file], {
      env: { ...process.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        if (String(d).includes('MIDBATCH')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`child exited (${code}) before mid-batch: ${stderr}`)));
    });
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    // The killed invocation neither deleted its messages nor committed anything.
    expect(await sink('lambda')).toEqual([]);

    // After the visibility timeout SQS hands the same wake-up out again.
    let again: Awaited<ReturnType<SqsEndpoint['receive']>> = [];
    for (let i = 0; i < 20 && again.length === 0; i++) again = await sqs.receive(wakeUrl, 1);
    expect(again.map((m) => m.MessageId)).toContain(msgs[0]!.MessageId);
    expect(Number(again[0]!.Attributes?.ApproximateReceiveCount)).toBeGreaterThan(1);
    const res = (await consumer(sqsEvent(again, arn), fakeContext(30_000))) as SQSBatchResponse;
    expect(res.batchItemFailures).toEqual([]);
    await sqs.deleteDone(wakeUrl, again);
    await deliverAll();
    expect(await sink('lambda')).toEqual(produced);
  });

  it('reports every message as failed when a batch fails, and the batch is handed out again', async () => {
    await db.query('truncate fn_sink');
    const produced = await produce('f', 5);
    await ticker({}, fakeContext(1_200, 'ticker'));
    const msgs = await sqs.receive(wakeUrl, 1);
    expect(msgs.length).toBeGreaterThan(0);
    const failing = consumerHandler({
      handler: async () => {
        throw new Error('downstream unavailable');
      },
    });
    const res = (await failing(sqsEvent(msgs, arn), fakeContext(30_000))) as SQSBatchResponse;
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      msgs.map((m) => m.MessageId!).sort(),
    );
    // Redelivered (not deleted): the working handler then gets the same batch.
    let again: Awaited<ReturnType<SqsEndpoint['receive']>> = [];
    for (let i = 0; i < 20 && again.length === 0; i++) again = await sqs.receive(wakeUrl, 1);
    const ok = (await consumer(sqsEvent(again, arn), fakeContext(30_000))) as SQSBatchResponse;
    expect(ok.batchItemFailures).toEqual([]);
    await sqs.deleteDone(wakeUrl, again);
    await deliverAll();
    expect(await sink('lambda')).toEqual(produced);
  });

  it('two concurrent ticker invocations never double-tick', async () => {
    const before = await db.one<{ n: number }>(
      "select count(*)::int as n from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where q.queue_name = 'fn_q'",
    );
    const traffic = (async () => {
      for (let r = 0; r < 8; r++) {
        await produce(`c${r}`, 3);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    const [a, b] = await Promise.all([
      ticker({}, fakeContext(2_000, 'ticker-a')),
      ticker({}, fakeContext(2_000, 'ticker-b')),
    ]);
    await traffic;
    expect([a.ran, b.ran].sort()).toEqual([false, true]);
    const winner = a.ran ? a : b;
    const loser = a.ran ? b : a;
    expect(loser.ticks).toBe(0);
    expect(winner.ticks).toBeGreaterThan(0);
    const after = await db.one<{ n: number }>(
      "select count(*)::int as n from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where q.queue_name = 'fn_q'",
    );
    expect(after.n - before.n).toBe(winner.ticks);
    await deliverAll();
  });

  it('the ticker exits before its deadline and before the next scheduled run', async () => {
    const started = Date.now();
    const out = await ticker({}, fakeContext(2_000, 'ticker'));
    expect(out.ran).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    // Scheduled 59 s ago with a 60 s schedule: the next run is due in ~1 s, so it stops sooner.
    const early = await ticker(
      { time: new Date(Date.now() - 59_000).toISOString() },
      fakeContext(30_000, 'ticker'),
    );
    expect(early.runForMs).toBeLessThan(1_000);
    expect(tickerRunFor({ remainingMs: 50_000 }, { deadline_margin: 3, schedule_period: 60 })).toBe(47_000);
    await deliverAll();
  });

  it('the maintenance function moves due retry events back into the queue', async () => {
    await db.query('truncate fn_sink');
    await produce('r', 2);
    await ticker({}, fakeContext(1_200, 'ticker'));
    const c = await db.pool.connect();
    try {
      const res = await processNextBatch(c, {
        queue: 'fn_q',
        consumer: 'lambda',
        handler: async (batch) => {
          for (const ev of batch.events) ev.tagRetry(0);
        },
      });
      expect(res?.retried).toBe(2);
    } finally {
      c.release();
    }
    const maint = createMaintenanceHandler();
    const out = await maint({}, fakeContext(30_000, 'maintenance'));
    expect(out).toMatchObject({ ran: true, retried: 2 });
    await sqs.receive(wakeUrl, 0).then((m) => sqs.deleteDone(wakeUrl, m));
  });
});
