// A consumer process of its own for the latency bench (bench/consumer.ts): `runConsumer` with no
// options but the queue, the consumer and the handler — as a user would start one beside
// `skytools pgqd`. Prints one line per event, "<data> <Date.now() at the handler>", so the bench
// (same machine, same clock) computes commit → handler. Usage: node consumer-process.ts URL CONSUMER QUEUE...
import { createPool } from '../layers/db/connection.ts';
import { runConsumer } from '../layers/pgq/consumer-loop.ts';

const [url, consumer, ...queues] = process.argv.slice(2);
if (!url || !consumer || queues.length === 0)
  throw new Error('usage: consumer-process.ts URL CONSUMER QUEUE...');
const pool = createPool({ connectionString: url, max: queues.length + 1 });
const ac = new AbortController();
process.on('SIGTERM', () => ac.abort());
const out: string[] = [];
const flush = setInterval(() => {
  if (out.length) process.stdout.write(`${out.splice(0).join('\n')}\n`);
}, 100);
await Promise.all(
  queues.map((queue) =>
    runConsumer({
      pool,
      queue,
      consumer,
      signal: ac.signal,
      handler: async (batch) => {
        const now = Date.now();
        for (const ev of batch.events) {
          out.push(`${ev.data} ${now}`);
          ev.tagDone();
        }
      },
    }),
  ),
);
clearInterval(flush);
if (out.length) process.stdout.write(`${out.join('\n')}\n`);
await pool.end();
