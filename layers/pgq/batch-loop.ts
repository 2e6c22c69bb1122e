// The one batch loop. Every consumer form — plain, remote, serial, cooperative, the Lambda drain,
// the cascaded worker (and Londiste's replay on top of it) — is this loop with its own per-batch
// step: open a connection, run the step again and again (a batch found: straight on, there may
// be more), and when a step finds nothing either sleep (long-running forms) or stop (the Lambda
// drain). A failing step costs its connection (discarded: it may be what failed) and either ends
// the loop (the Lambda drain: SQS redelivers) or is retried after the shared back-off, which a
// successful step resets.
import { isConnectionFailure } from '../db/connection.ts';
import { Backoff } from '../util/backoff.ts';
import { sleep, type Waker } from '../util/sleep.ts';

export interface BatchLoopOptions<C, R> {
  /** Opens what the step needs (usually a connection); kept across steps until one fails. */
  open: () => Promise<C>;
  /** Gives it back: with `err` after a failed step (discard it), without at the end of the loop. */
  close: (conn: C, err?: Error) => Promise<void> | void;
  /** One batch: its result, or null when there was nothing to do. */
  step: (conn: C) => Promise<R | null>;
  /** Ends the loop (checked before every step and after every wait). */
  signal?: AbortSignal;
  /** A step found nothing: wait delayMs (cut short by the waker) and look again, or 'stop'. */
  idle: { delayMs: number; waker?: Waker } | 'stop';
  /** Checked before every step; true ends the loop (e.g. a Lambda's time running short). */
  timeUp?: () => boolean;
  /** A failed step (or open): 'retry' after the back-off (default), or 'stop' the loop. */
  onError?: 'retry' | 'stop';
  /** The retry policy (default: from idle.delayMs, capped at 60 s). */
  backoff?: Backoff;
  /** Each step's result (after it finished). */
  onResult?: (res: R) => void;
  /**
   * A step (or open) failed; `retryInMs` is the wait before the next attempt (null: the loop
   * stops). Runs before the connection is closed, so it may still record the error through it.
   */
  onFailure?: (err: Error, retryInMs: number | null) => Promise<void> | void;
}

export interface BatchLoopResult {
  /** Why the loop ended: the signal, no batch left, time up, or a failure with onError 'stop'. */
  stopped: 'signal' | 'empty' | 'time' | 'error';
  error?: Error;
}

export async function runBatchLoop<C, R>(opts: BatchLoopOptions<C, R>): Promise<BatchLoopResult> {
  const idle = opts.idle;
  const backoff = opts.backoff ?? new Backoff({ delayMs: idle === 'stop' ? 0 : idle.delayMs, maxMs: 60_000 });
  let conn: { c: C } | null = null;
  try {
    for (;;) {
      if (opts.signal?.aborted) return { stopped: 'signal' };
      if (opts.timeUp?.()) return { stopped: 'time' };
      let res: R | null;
      try {
        conn ??= { c: await opts.open() };
        res = await opts.step(conn.c);
      } catch (e) {
        const err = e as Error;
        const retryInMs = opts.onError === 'stop' ? null : backoff.failure(isConnectionFailure(err));
        try {
          await opts.onFailure?.(err, retryInMs);
        } catch {
          // Reporting the failure failed too (e.g. recording it in the database that is down):
          // the retry below is what matters.
        }
        const broken = conn;
        conn = null;
        if (broken) await opts.close(broken.c, err);
        if (retryInMs == null) return { stopped: 'error', error: err };
        await sleep(retryInMs, opts.signal);
        continue;
      }
      backoff.success();
      if (res != null) {
        opts.onResult?.(res);
        continue; // there may be more: drain before waiting
      }
      if (idle === 'stop') return { stopped: 'empty' };
      if (idle.waker) await idle.waker.wait(idle.delayMs, opts.signal);
      else await sleep(idle.delayMs, opts.signal);
    }
  } finally {
    if (conn) await opts.close(conn.c);
  }
}
