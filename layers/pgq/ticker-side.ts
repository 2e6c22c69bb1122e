// The ticker's second connection, for databases with many queues: the work nobody waits on (a
// full pass's chunks over queues without a consumer, pgq.maint_retry_events, pgq.maint_operations
// and its VACUUMs) runs here, one job at a time, while the ticker's own connection keeps polling
// the queues consumers wait on. On one connection, a chunk of idle ticks or a maintenance round
// (a thousand queues created together rotate together) held every hot queue's tick for its whole
// length: the tail of the 1,000-queue latency bench. Opened only when first needed, so a database
// with a handful of queues keeps one connection, as pgqd has.
import type pg from 'pg';
import { guardClient } from '../db/connection.ts';

export class SideLane {
  readonly #connect: () => Promise<pg.Client>;
  #client: pg.Client | null = null;
  #job: Promise<void> | null = null;
  #error: unknown = null;
  #closed = false;

  constructor(connect: () => Promise<pg.Client>) {
    this.#connect = connect;
  }

  /** A job is running. */
  get busy(): boolean {
    return this.#job !== null;
  }

  /** The connection is open (some work has been sent here). */
  get open(): boolean {
    return this.#client !== null;
  }

  /** Opens the connection if it is not yet (errors go to the caller, as the ticker's own). */
  async ready(): Promise<void> {
    if (this.#client || this.#closed) return;
    this.#client = guardClient(await this.#connect());
  }

  /**
   * Starts `job` on this connection without waiting for it; `done` runs after it (also after a
   * failure, whose error the next `takeError` returns). Call only when not busy and ready.
   */
  run(job: (client: pg.Client) => Promise<void>, done: () => void): void {
    const client = this.#client;
    if (!client || this.#job) throw new Error('side lane not ready or busy');
    this.#job = job(client)
      .catch((err: unknown) => {
        if (!this.#closed) this.#error = err;
      })
      .finally(() => {
        this.#job = null;
        done();
      });
  }

  /** The error of the last failed job (once), so the ticker loop reconnects as for its own. */
  takeError(): unknown {
    const err = this.#error;
    this.#error = null;
    return err;
  }

  /** Closes the connection; a job still running ends with an error nobody reads. */
  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
    await this.#job?.catch(() => {});
  }
}
