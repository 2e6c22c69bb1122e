// The local stack in serverless mode (`skytools dev --serverless`): the same code that runs in
// Lambda — the ticker invocation, SQS wake-ups, the consumer drain — with SQS served by a local
// endpoint (the in-process emulator fauxqs, or AWS_ENDPOINT_URL such as LocalStack). Only the
// Lambda service itself is played by this process: it invokes the handlers back to back.
import { DatabaseSource } from '../aws/database.ts';
import { sqsClient } from '../aws/sqs.ts';
import type { BatchHandler } from '../pgq/consumer.ts';
import { type ConsumerStats, withLatencySamples } from '../pgq/consumer-loop.ts';
import { drainOnWakeup } from '../pgq/lambda/consumer.ts';
import { createWakeupQueues, pollConsumer } from '../pgq/lambda/local.ts';
import {
  CONSUMER_SETTINGS,
  type ConsumerSettings,
  TICKER_SETTINGS,
  type TickerSettings,
} from '../pgq/lambda/settings.ts';
import { runTickerInvocation } from '../pgq/lambda/ticker.ts';
import { sleep } from '../util/sleep.ts';
import type { StackParts } from './stack.ts';

/** How long one simulated ticker invocation lasts (EventBridge would invoke every minute). */
const TICKER_INVOCATION_MS = 15_000;

export async function startServerless(p: StackParts): Promise<Promise<unknown>[]> {
  let stopEmulator = async () => {};
  if (!process.env.AWS_ENDPOINT_URL && !process.env.AWS_ENDPOINT_URL_SQS) {
    const { startFauxqs } = await import('fauxqs');
    const server = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
    process.env.AWS_ENDPOINT_URL_SQS = `http://127.0.0.1:${server.port}`;
    stopEmulator = () => server.stop();
  }
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  const sqs = sqsClient();
  const decls = [...p.handlers.keys()];
  const targets = await createWakeupQueues(
    sqs,
    decls.map((d) => ({ queue: d.queue, consumer: d.name })),
  );
  p.log.info('serverless mode: SQS wake-up queues ready', {
    endpoint: process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL,
  });

  // The Lambda tables' defaults (no environment: the stack file decides), with the stack's values.
  const tickerSettings: TickerSettings = {
    ...TICKER_SETTINGS.load().values,
    database_url: p.url,
    tick_period: p.cfg.tickerPeriodMs / 1000,
    poll_period: p.cfg.pollPeriodMs / 1000,
    retry_period: p.cfg.retryPeriodMs / 1000,
    maint_period: p.cfg.maintPeriodMs / 1000,
    wakeup_targets: targets,
    on_busy: 'wait',
    deadline_margin: 1,
  };
  const tickerDb = new DatabaseSource(tickerSettings);
  const loops: Promise<unknown>[] = [];

  loops.push(
    (async () => {
      while (!p.signal.aborted) {
        try {
          // The stack's counters are updated as the invocation ticks, so the live view moves.
          await runTickerInvocation(
            { remainingMs: TICKER_INVOCATION_MS },
            {
              settings: tickerSettings,
              db: tickerDb,
              sqs,
              log: p.log,
              signal: p.signal,
              stats: p.tickerStats,
            },
          );
        } catch (err) {
          p.tickerStats.errors++;
          p.log.error('ticker invocation failed', { error: (err as Error).message });
          await sleep(1000, p.signal);
        }
      }
      await tickerDb.end();
    })(),
  );

  for (const [i, decl] of decls.entries()) {
    const stats = p.consumerStats.get(`${decl.queue}/${decl.name}`)!;
    const settings: ConsumerSettings = {
      ...CONSUMER_SETTINGS.load().values,
      database_url: p.url,
      queue: decl.queue,
      consumer: decl.name,
    };
    const deps = { settings, db: new DatabaseSource(settings), sqs, log: p.log };
    const handler = measured(p.handlers.get(decl)!, stats);
    loops.push(
      pollConsumer(
        sqs,
        targets[i]!.queueUrl,
        {
          queue: decl.queue,
          consumer: decl.name,
          handler: async (event, context) => {
            const res = await drainOnWakeup(
              event,
              context,
              { queue: decl.queue, consumer: decl.name, handler, lazyFetch: decl.lazyFetch },
              deps,
            );
            stats.batches += res.batches.length;
            stats.retried += res.batches.reduce((n, b) => n + b.retried, 0);
            if (res.error) {
              stats.errors++;
              stats.lastError = res.error.message;
            }
            if (res.batches.length) stats.lastBatchAt = new Date();
            return res.response;
          },
        },
        { signal: p.signal, log: p.log },
      ).finally(() => deps.db.end()),
    );
  }
  loops.push(
    new Promise<void>((resolve) => p.signal.addEventListener('abort', () => resolve(), { once: true })).then(
      async () => {
        // Give the pollers a moment to leave their long poll before the endpoint goes away.
        await sleep(1500);
        await stopEmulator();
      },
    ),
  );
  return loops;
}

/** Counts events and end-to-end latency like the loop form does. */
function measured(handler: BatchHandler, stats: ConsumerStats): BatchHandler {
  const sampled = withLatencySamples(handler, stats);
  return (batch, client) => {
    stats.events += batch.events.length;
    return sampled(batch, client);
  };
}
