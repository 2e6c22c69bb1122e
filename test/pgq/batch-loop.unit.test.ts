// The reconnect / back-off policy of every loop (grows, caps, resets after a success) and the one
// batch loop's control flow (drain, idle, time up, failure → discard the connection and retry or
// stop), with fake steps: no database.
import { describe, expect, it } from 'vitest';
import { isConnectionFailure } from '../../layers/db/connection.ts';
import { runBatchLoop } from '../../layers/pgq/batch-loop.ts';
import { Backoff, MIN_BACKOFF_MS, RECONNECT_MAX_MS } from '../../layers/util/backoff.ts';

describe('Backoff', () => {
  it('starts at the loop delay, doubles on each failure and stops at the cap', () => {
    const b = new Backoff({ delayMs: 250, maxMs: 3000 });
    expect(Array.from({ length: 7 }, () => b.failure())).toEqual([250, 500, 1000, 2000, 3000, 3000, 3000]);
  });

  it('starts again at the loop delay after a success', () => {
    const b = new Backoff({ delayMs: 200, maxMs: 30_000 });
    for (let i = 0; i < 5; i++) b.failure();
    expect(b.nextMs).toBe(6400);
    b.success();
    expect([b.failure(), b.failure()]).toEqual([200, 400]);
  });

  it('retries a lost connection at most RECONNECT_MAX_MS apart, however long the outage', () => {
    const b = new Backoff({ delayMs: 100, maxMs: 60_000 });
    const waits = Array.from({ length: 12 }, () => b.failure(true));
    expect(waits.slice(0, 4)).toEqual([100, 200, 400, 800]);
    expect(waits.slice(4).every((w) => w === RECONNECT_MAX_MS)).toBe(true);
    // a failing statement on a live connection keeps growing
    expect(b.failure(false)).toBe(60_000);
  });

  it('tells a lost or refused connection from a failing statement', () => {
    const pgErr = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    for (const e of [
      pgErr('ECONNREFUSED'),
      pgErr('57P01', 'terminating connection due to administrator command'),
      pgErr('57P03', 'the database system is starting up'),
      pgErr('08006'),
      new Error('Connection terminated unexpectedly'),
      new Error('wrapped', { cause: pgErr('ECONNRESET') }),
    ])
      expect(isConnectionFailure(e), String(e)).toBe(true);
    for (const e of [
      pgErr('42P01', 'relation does not exist'),
      pgErr('28P01'),
      new Error('handler failed'),
      null,
    ])
      expect(isConnectionFailure(e), String(e)).toBe(false);
  });

  it('never waits less than MIN_BACKOFF_MS, nor starts above the cap', () => {
    expect(new Backoff({ delayMs: 10, maxMs: 30_000 }).failure()).toBe(MIN_BACKOFF_MS);
    expect(new Backoff({ delayMs: 0, maxMs: 0 }).failure()).toBe(MIN_BACKOFF_MS);
    const b = new Backoff({ delayMs: 5000, maxMs: 1000 });
    expect([b.failure(), b.failure()]).toEqual([1000, 1000]);
  });
});

/** A scripted step: each entry is a result, null (nothing to do) or an Error to throw. */
function script(items: (number | null | Error)[]) {
  let i = 0;
  return {
    get calls() {
      return i;
    },
    step: async () => {
      const item = items[i++];
      if (item === undefined) throw new Error('script ran out');
      if (item instanceof Error) throw item;
      return item;
    },
  };
}

function connections() {
  let n = 0;
  const closed: { id: number; err?: string }[] = [];
  return {
    closed,
    get opened() {
      return n;
    },
    open: async () => ++n,
    close: (id: number, err?: Error) => {
      closed.push(err ? { id, err: err.message } : { id });
    },
  };
}

describe('runBatchLoop', () => {
  it('drain form: runs steps back to back and stops at the first empty one, closing its connection', async () => {
    const s = script([1, 2, 3, null]);
    const c = connections();
    const results: number[] = [];
    const r = await runBatchLoop({ ...c, step: s.step, idle: 'stop', onResult: (x) => results.push(x) });
    expect(r).toEqual({ stopped: 'empty' });
    expect(results).toEqual([1, 2, 3]);
    expect(c.opened).toBe(1);
    expect(c.closed).toEqual([{ id: 1 }]);
  });

  it('drain form: stops when time is up, before the next step', async () => {
    const s = script([1, 2, 3, 4]);
    const c = connections();
    const r = await runBatchLoop({ ...c, step: s.step, idle: 'stop', timeUp: () => s.calls >= 2 });
    expect(r.stopped).toBe('time');
    expect(s.calls).toBe(2);
  });

  it("drain form: onError 'stop' ends at the first failure and discards that connection", async () => {
    const s = script([1, new Error('boom'), 3]);
    const c = connections();
    const failures: (number | null)[] = [];
    const r = await runBatchLoop({
      ...c,
      step: s.step,
      idle: 'stop',
      onError: 'stop',
      onFailure: (_e, retryInMs) => {
        failures.push(retryInMs);
      },
    });
    expect(r.stopped).toBe('error');
    expect(r.error?.message).toBe('boom');
    expect(failures).toEqual([null]);
    expect(c.closed).toEqual([{ id: 1, err: 'boom' }]);
  });

  it('long-running form: retries on a new connection after the back-off, which a success resets', async () => {
    const ac = new AbortController();
    const boom = () => new Error('down');
    // two failures, a success, two failures, a success, then nothing to do: the signal ends it.
    const s = script([boom(), boom(), 1, boom(), boom(), 2, null]);
    const c = connections();
    const waits: (number | null)[] = [];
    const started = Date.now();
    const r = await runBatchLoop({
      ...c,
      step: async () => {
        const res = await s.step();
        if (res === null) ac.abort();
        return res;
      },
      signal: ac.signal,
      idle: { delayMs: 10 },
      backoff: new Backoff({ delayMs: 100, maxMs: 1000 }),
      onFailure: (_e, retryInMs) => {
        waits.push(retryInMs);
      },
    });
    expect(r.stopped).toBe('signal');
    expect(waits).toEqual([100, 200, 100, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    // every failure cost its connection; the last one was closed normally at the end
    expect(c.opened).toBe(5);
    expect(c.closed).toEqual([
      { id: 1, err: 'down' },
      { id: 2, err: 'down' },
      { id: 3, err: 'down' },
      { id: 4, err: 'down' },
      { id: 5 },
    ]);
  });

  it('long-running form: a failing open is retried like a failing step', async () => {
    const ac = new AbortController();
    let opens = 0;
    const waits: (number | null)[] = [];
    const r = await runBatchLoop({
      open: async () => {
        if (++opens < 3) throw new Error('refused');
        return opens;
      },
      close: () => {},
      step: async () => {
        ac.abort();
        return 7;
      },
      signal: ac.signal,
      idle: { delayMs: 10 },
      backoff: new Backoff({ delayMs: 100, maxMs: 1000 }),
      onFailure: (_e, retryInMs) => {
        waits.push(retryInMs);
      },
    });
    expect(r.stopped).toBe('signal');
    expect(opens).toBe(3);
    expect(waits).toEqual([100, 200]);
  });
});
