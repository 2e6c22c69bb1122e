// When the ticker loop (ticker.ts) passes over which queues, on our SQL (pgq.ticker_poll):
//   * every queue every tickMs, as pgqd does (PgQ's rules, idle ticks);
//   * every queue sooner when something committed since the last look (txid_current_snapshot()
//     changed — an idle database costs one tiny query per scan period and writes nothing), at
//     most every 20× the last full pass's duration, so that pass never costs more than ~5 % of
//     a core however many queues there are;
//   * the queues ticked with events in the last HOT_MS ("hot") every pollMs (a fixed rate: the
//     poll's own time is not added to the period): a handful of queues, however many exist, so
//     an active queue is ticked milliseconds after its events commit even among thousands of
//     idle ones;
//   * a queue at once when its consumer says it finished a batch and waits (WAITING_CHANNEL,
//     LISTENed for on the ticker's connection): under load, events are waiting by then, and the
//     tick no longer waits for the next poll.
// Timing only decides when to look; whether a queue is ticked is decided in SQL, under its lock.
import type pg from 'pg';
import type { Logger } from '../util/log.ts';
import { Waker } from '../util/sleep.ts';
import { WAITING_CHANNEL } from './tick-notify.ts';
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
  #pollStart = 0;
  /** Queues whose consumer said it waits, since the last poll. */
  readonly #waiting = new Set<string>();
  /** Cuts the ticker loop's sleep short when a consumer says it waits. */
  readonly waker = new Waker();

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
    if (!r.rows[0]?.ok) return null;
    const poller = new TickPoller(client, o.tickMs, o.pollMs);
    // The connection is the ticker's own for its whole life (it holds the advisory lock), so the
    // LISTEN needs no UNLISTEN: it ends with the session.
    client.on('notification', (msg) => {
      if (msg.channel === WAITING_CHANNEL && msg.payload) poller.#consumerWaits(msg.payload);
    });
    await client.query(`listen ${WAITING_CHANNEL}`);
    return poller;
  }

  #consumerWaits(queue: string): void {
    this.#waiting.add(queue);
    this.waker.wake();
  }

  /** What to pass over now: null = every queue, a list = those queues, undefined = nothing. */
  async due(now: number): Promise<string[] | null | undefined> {
    for (const [q, at] of this.#hot) if (now - at > HOT_MS) this.#hot.delete(q);
    const fullDue = now >= this.#nextFull;
    const hotDue = this.#waiting.size > 0 || (this.#hot.size > 0 && now >= this.#nextPoll);
    // A cut-short full pass goes on, but not before the hot queues had their poll.
    if (fullDue && !(this.#more && hotDue)) return null;
    // A waiting consumer's queue first: the snapshot look (and the pass it may start) can follow.
    if (!fullDue && this.#waiting.size === 0 && now >= this.#nextScan) {
      const r = await this.#client.query<{ s: string }>('select txid_current_snapshot()::text as s');
      const changed = r.rows[0]!.s !== this.#snapshot;
      this.#snapshot = r.rows[0]!.s;
      if (changed) return null;
      this.#nextScan = now + this.#scanMs;
    }
    return hotDue ? [...new Set([...this.#hot.keys(), ...this.#waiting])] : undefined;
  }

  /** One pgq.ticker_poll over those queues (null: all); reports and returns the new ticks. */
  async pass(
    queues: string[] | null,
    stats: TickerStats,
    onTick: TickerOptions['onTick'],
    log: Logger,
  ): Promise<TickEvent[]> {
    if (queues === null) this.#more = false;
    // This pass looks at them (all queues, or every hot one, those included).
    this.#waiting.clear();
    this.#pollStart = Date.now();
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
    // Fixed rate from the poll's start, but never back to back when polls run slow (a loaded
    // server): at least half a period in between.
    this.#nextPoll = Math.max(this.#pollStart + this.#pollMs, now + this.#pollMs / 2);
  }

  /** When the loop should look again (sooner when `waker` is woken: a consumer waits). */
  nextAt(): number {
    if (this.#waiting.size > 0) return 0;
    return Math.min(this.#nextFull, this.#nextScan, this.#hot.size > 0 ? this.#nextPoll : Infinity);
  }
}
