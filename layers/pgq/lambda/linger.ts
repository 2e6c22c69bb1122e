// The drain's linger: after its last batch the consumer function stays a little, waiting for the
// queue's next tick as announced by the ticker's NOTIFY on the drain's own connection
// (layers/pgq/tick-notify.ts), and takes that batch at once. Without it every batch after the
// first waits for three SQS calls in a row: the delete of this invocation's wake-up (the FIFO
// message group stays locked until then), the next tick's send and the receive that invokes the
// function again. The wake-up stays what it was, a hint: the ticks that arrive while lingering
// still send theirs, and the invocation they cause finds those batches taken and returns.

/** Remembers a tick notification until the next wait; a wait tells whether one came. */
export class TickLatch {
  #pending = false;
  #wake: (() => void) | null = null;
  /** Ticks that ended a wait early (the drain stepped again because of one). */
  wakes = 0;
  /** Time spent waiting, in ms. */
  waitedMs = 0;

  /** Forgets a tick already seen (the look about to be taken sees its batch). */
  clear(): void {
    this.#pending = false;
  }

  notify = (): void => {
    this.#pending = true;
    this.#wake?.();
  };

  /**
   * Waits up to ms for a tick; true when one came (also one that came since the last wait: it
   * may have been committed after the last look found nothing), false when the time passed.
   */
  async wait(ms: number): Promise<boolean> {
    if (!this.#pending && ms > 0) {
      const started = performance.now();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = null;
      this.waitedMs += performance.now() - started;
    }
    const ticked = this.#pending;
    this.#pending = false;
    if (ticked) this.wakes++;
    return ticked;
  }
}

export interface LingerOptions<C> {
  lingerMs: number;
  /** Time left before min_remaining, in ms. */
  budgetMs: () => number;
  /** Whether the last batch's traffic makes lingering worth it (worthLingering). */
  worth: () => boolean;
  /** LISTENs on the tick channel on this connection unless it already does; true when it did now. */
  listen: (conn: C) => Promise<boolean>;
}

/**
 * A drain step that lingers: when `step` finds no batch and `o.worth()` says the queue's traffic
 * makes a tick within the linger likely, wait for one up to lingerMs (never past the budget) and
 * look again; null once a wait passes without a tick, or at once when not worth it (a duplicate
 * wake-up, a quiet queue: the wait would only be billed). The drain LISTENs only when it first
 * lingers, then looks once more before waiting: a tick committed between the empty look and the
 * LISTEN is seen by that look. So a drain that never lingers costs no extra round trip. A tick
 * seen before a look is forgotten at that look, which sees its batch.
 */
export function lingering<C, R>(
  step: (conn: C) => Promise<R | null>,
  latch: TickLatch,
  o: LingerOptions<C>,
): (conn: C) => Promise<R | null> {
  return async (conn) => {
    for (;;) {
      latch.clear();
      const res = await step(conn);
      if (res != null) return res;
      const wait = o.worth() ? Math.min(o.lingerMs, o.budgetMs()) : 0;
      if (wait <= 0) return null;
      if (await o.listen(conn)) continue;
      if (!(await latch.wait(wait))) return null;
    }
  };
}

/**
 * Whether to linger after a batch of `events` spanning spanMs between its two ticks: the queue's
 * rate, as this batch shows it, brings at least two events within the linger — the first of them
 * then comes after about half the linger, leaving the other half for the ticker to tick it and
 * the NOTIFY to arrive. Under load the next tick follows the consumer's finish within milliseconds
 * and each wait saves an SQS round trip; at a few events a second a wait would mostly run out,
 * billed, and the next wake-up come anyway (at the default 50 ms: lingering from 40 events/s).
 */
export function worthLingering(events: number, spanMs: number, lingerMs: number): boolean {
  return events > 0 && events * lingerMs >= 2 * Math.max(spanMs, 1);
}
