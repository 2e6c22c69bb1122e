// `node functions/local.ts queue:consumer=handler.ts` — the deployed path run locally — moves events
// to the consumer and stops on one Ctrl-C (it used to finish the running one-minute ticker
// invocation and then hang on open pools).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const ROOT = path.resolve(import.meta.dirname, '../..');

it('delivers events and stops promptly on SIGINT', async () => {
  await db.query("select pgq.create_queue('lr_q')");
  await db.query("select pgq.set_queue_config('lr_q', 'ticker_max_lag', '0')");
  await db.query("select pgq.register_consumer('lr_q', 'lr_c')");
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, PGQ_TICK_PERIOD: '0.05' };
  delete env.AWS_ENDPOINT_URL;
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'functions/local.ts'),
      `lr_q:lr_c=${path.join(ROOT, 'functions/example-consumer/handler.ts')}`,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  try {
    for (let i = 0; i < 200 && !/Ctrl-C stops/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toMatch(/Ctrl-C stops/);
    await db.query("select pgq.insert_event('lr_q', 'T', 'x')");
    // Delivered: the event is in a tick (ev_new 0) and the consumer finished up to the last tick.
    let done = false;
    for (let i = 0; i < 200 && !done; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const r = await db.one(
        `select q.ev_new::int as ev_new, q.last_tick_id::int8 as queue_tick, c.last_tick::int8 as consumer_tick,
                c.pending_events::int as pending
           from pgq.get_queue_info('lr_q') q, pgq.get_consumer_info('lr_q', 'lr_c') c`,
      );
      done = r.ev_new === 0 && r.pending === 0 && r.consumer_tick === r.queue_tick;
    }
    expect(done, stderr).toBe(true);
  } finally {
    child.kill('SIGINT');
  }
  const started = Date.now();
  const code = await exited;
  expect(code, stderr).toBe(0);
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(stderr).toMatch(/stopped/);
});
