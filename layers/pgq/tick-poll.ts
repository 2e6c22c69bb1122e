// When the ticker loop (ticker.ts) passes over which queues, on our SQL (pgq.ticker_poll):
//   * every queue every tickMs, as pgqd does (PgQ's rules, idle ticks);
//   * every queue sooner when something committed since the last look (txid_current_snapshot()
//     changed — an idle database costs one tiny query per scan period and writes nothing), at
//     most every 20× the last full pass's duration, so that pass never costs more than ~5 % of
//     a core however many queues there are;
//   * the queues ticked with events in the last HOT_MS ("hot") every pollMs: a handful of
//     queues, however many exist, so an active queue is ticked milliseconds after its events
//     commit even among thousands of idle ones.
// Timing only decides when to look; whether a queue is ticked is decided in SQL, under its lock.
import type pg from 'pg';
import type { Logger } from '../util/log.ts';
import { reportTicks, type TickEvent, type TickerOptions, type TickerStats } from './ticker.ts';

const HOT_MS = 30_000;
/** A full pass may take at most 1/SCAN_SHARE of the time between two of them. */
const SCAN_SHARE = 20;
const MIN_SCAN_MS = 10;
/** Ticks by PgQ's rules per pass: a pass with more due commits in pieces (pgq.ticker_poll). */
const MAX_RULE_TICKS = 100;

export class TickPoller {
  readonly #client: pg.ClientBase;
  readonly #tickMs: number;
  readonly #pollMs: number;
  readonly #hot = new Map<string, number>();
  #nextFull = 0;
  #nextScan = 0;
  #nextPoll = 0;
  #scanMs: number;
  #snapshot: string | null = null;
  #more = false;

  private constructor(client: pg.ClientBase, tickMs: number, pollMs: number) {
    this.#client = client;
    this.#tickMs = tickMs;
    this.#pollMs = pollMs;
    this.#scanMs = Math.min(tickMs, Math.max(pollMs, MIN_SCAN_MS));
  }

  /** A poller when the database has pgq.ticker_poll (our SQL), else null (the C extension). */
  static async open(
    client: pg.ClientBase,
    o: { tickMs: number; pollMs: number },
  ): Promise<TickPoller | null> {
    const r = await client.query<{ ok: boolean }>(
      "select to_regprocedure('pgq.ticker_poll(text[], integer)') is not null as ok",
    );
    return r.rows[0]?.ok ? new TickPoller(client, o.tickMs, o.pollMs) : null;
  }

  /** What to pass over now: null = every queue, a list = those queues, undefined = nothing. */
  async due(now: number): Promise<string[] | null | undefined> {
    for (const [q, at] of this.#hot) if (now - at > HOT_MS) this.#hot.delete(q);
    const fullDue = now >= this.#nextFull;
    const hotDue = this.#hot.size > 0 && now >= this.#nextPoll;
    // A cut-short full pass goes on, but not before the hot queues had their poll.
    if (fullDue && !(this.#more && hotDue)) return null;
    if (!fullDue && now >= this.#nextScan) {
      const r = await this.#client.query<{ s: string }>('select txid_current_snapshot()::text as s');
      const changed = r.rows[0]!.s !== this.#snapshot;
      this.#snapshot = r.rows[0]!.s;
      if (changed) return null;
      this.#nextScan = now + this.#scanMs;
    }
    return hotDue ? [...this.#hot.keys()] : undefined;
  }

  /** One pgq.ticker_poll over those queues (null: all); reports and returns the new ticks. */
  async pass(
    queues: string[] | null,
    stats: TickerStats,
    onTick: TickerOptions['onTick'],
    log: Logger,
  ): Promise<TickEvent[]> {
    if (queues === null) this.#more = false;
    const r = await this.#client.query<{ queue_name: string; tick_id: unknown; new_events: unknown }>(
      'select queue_name, tick_id, new_events from pgq.ticker_poll($1::text[], $2)',
      [queues, MAX_RULE_TICKS],
    );
    // Cut short (more were due): pass again right after the next poll.
    if (queues === null && r.rows.length >= MAX_RULE_TICKS) this.#more = true;
    const now = Date.now();
    for (const row of r.rows) if (Number(row.new_events) > 0) this.#hot.set(row.queue_name, now);
    return reportTicks(r.rows, stats, onTick, log);
  }

  /** Schedules the next looks after a pass that took ms. */
  passed(queues: string[] | null, _ticks: TickEvent[], ms: number, stats: TickerStats): void {
    const now = Date.now();
    if (queues === null) {
      stats.tickerCalls++;
      stats.passMs = ms;
      this.#nextFull = this.#more ? now : now + this.#tickMs;
      this.#scanMs = Math.min(this.#tickMs, Math.max(this.#pollMs, MIN_SCAN_MS, ms * SCAN_SHARE));
      this.#nextScan = now + this.#scanMs;
    } else {
      stats.polls++;
    }
    this.#nextPoll = now + this.#pollMs;
  }

  /** When the loop should look again. */
  nextAt(): number {
    return Math.min(this.#nextFull, this.#nextScan, this.#hot.size > 0 ? this.#nextPoll : Infinity);
  }
}
