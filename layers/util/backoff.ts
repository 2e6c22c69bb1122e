// The reconnect / retry policy of every long-running loop (consumers, cascade workers, the
// ticker): after a failure wait, doubling the wait on each further failure up to a cap; one
// success resets it, so the next outage starts with a short wait again instead of where the last
// one left off.

export interface BackoffOptions {
  /** The loop's normal pace (loop delay, tick period): the first wait is this, at least MIN_MS. */
  delayMs: number;
  /** The longest wait. */
  maxMs: number;
}

/** The longest wait before trying to reconnect to a database that went away. */
export const RECONNECT_MAX_MS = 1000;

/** A first wait below this would only hammer a database that is still starting up. */
export const MIN_BACKOFF_MS = 100;

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  #nextMs: number;

  constructor(opts: BackoffOptions) {
    this.maxMs = Math.max(MIN_BACKOFF_MS, opts.maxMs);
    this.initialMs = Math.min(this.maxMs, Math.max(MIN_BACKOFF_MS, opts.delayMs));
    this.#nextMs = this.initialMs;
  }

  /**
   * A failure: returns how long to wait before the next attempt; the one after waits twice that.
   * A lost or refused connection (`reconnect`) waits at most RECONNECT_MAX_MS however long the
   * outage: trying to connect is cheap for the server, and the loop must be back within about a
   * second of the database. Other failures (a handler or statement failing again and again) keep
   * growing to maxMs, so a poison batch does not spin.
   */
  failure(reconnect = false): number {
    const ms = reconnect ? Math.min(this.#nextMs, Math.max(this.initialMs, RECONNECT_MAX_MS)) : this.#nextMs;
    this.#nextMs = Math.min(this.#nextMs * 2, this.maxMs);
    return ms;
  }

  /** A success: the next failure waits initialMs again. */
  success(): void {
    this.#nextMs = this.initialMs;
  }

  /** What the next failure would wait. */
  get nextMs(): number {
    return this.#nextMs;
  }
}
