// When the ticker loop (ticker.ts) passes over which queues, on our SQL (pgq.ticker_poll):
//   * every queue every tickMs, as pgqd does (PgQ's rules, idle ticks);
//   * when something committed since the last look (txid_current_snapshot() changed — an idle
//     database costs one tiny query per scan period and writes nothing): the queues that have a
//     consumer ("subscribed", listed at each full pass; up to CHUNK_QUEUES of them), at most
//     every scan period or that poll's duration (the look itself slows down while nothing
//     commits, up to 50 ms: QUIET_SHARE), so a queue's first events in a while are
//     ticked at once even among thousands of queues
//     without consumers; and every queue, at most every 20× the last full pass's duration, so
//     that pass never costs more than ~5 % of a core however many queues there are;
//   * the queues ticked with events in the last HOT_MS ("hot") every pollMs (a fixed rate: the
//     poll's own time is not added to the period): a handful of queues, however many exist, so
//     an active queue is ticked milliseconds after its events commit even among thousands of
//     idle ones — a tick counts only when a consumer waited for it (pgq.ticker_poll's waited);
//     a queue whose consumers are busy or stopped is not polled that often for nothing;
//   * a queue at once when its consumer says it finished a batch and waits (WAITING_CHANNEL,
//     LISTENed for on the ticker's connection): under load, events are waiting by then, and the
//     tick no longer waits for the next poll.
// A full pass over more than CHUNK_QUEUES queues, while a consumer or a hot queue may be waiting
// for a tick, runs as a sequence of short statements over
// CHUNK_QUEUES names each (each its own transaction, at most MAX_RULE_TICKS ticks by PgQ's rules),
// with the hot queues' polls in between: the ticker has one connection, and one long pass (a
// thousand new queues' idle ticks all due together took ~1 s at load 15) would hold up the hot
// queues' ticks for its whole length — that was the 1,000-queue bench's p99.
// With a second connection (`connect`, ticker-side.ts) such a chunked pass goes over the queues
// without a consumer only, there, while this connection polls the subscribed queues — PgQ's rules
// for them included, once per pass — and is never held up by a chunk's ticks or their commit.
// Timing only decides when to look; whether a queue is ticked is decided in SQL, under its lock.
import type pg from 'pg';
import type { Logger } from '../util/log.ts';
import { Waker } from '../util/sleep.ts';
import { WAITING_CHANNEL } from './tick-notify.ts';
import { reportTicks, type TickEvent, type TickerOptions, type TickerStats } from './ticker.ts';
import { SideLane } from './ticker-side.ts';

const HOT_MS = 30_000;
const POLL_SQL = 'select queue_name, tick_id, new_events, waited from pgq.ticker_poll($1::text[], $2)';
/** The same on SQL from before `waited` (not upgraded yet): every tick counts as waited for. */
const POLL_SQL_OLD =
  'select queue_name, tick_id, new_events, null as waited from pgq.ticker_poll($1::text[], $2)';
/** A full pass may take at most 1/SCAN_SHARE of the time between two of them. */
const SCAN_SHARE = 20;
const MIN_SCAN_MS = 10;
/**
 * The snapshot look slows down while nothing commits: its period is the time since the last
 * commit it saw ÷ QUIET_SHARE, between the scan period and QUIET_SCAN_MAX_MS. An idle database
 * with subscribed queues then costs a few looks a second instead of a hundred (each one a
 * round trip and a timer wake-up: ~5 % of a core at 100 a second, bench/README.md), and the
 * first event after a quiet gap waits at most 1/50 of the gap (at most 50 ms) more; at 20
 * events a second and above the period stays the scan period.
 */
const QUIET_SHARE = 50;
const QUIET_SCAN_MAX_MS = 50;
/** Queues per statement of a full pass; up to this many, the pass is one statement over all. */
export const CHUNK_QUEUES = 100;
/**
 * Ticks by PgQ's rules per statement (pgq.ticker_poll's i_max_ticks): a chunk with more due is
 * passed again. Each tick costs a row lock, an insert and a NOTIFY; 25 keep a statement short.
 */
export const MAX_RULE_TICKS = 25;

/** What the loop passes over next: the hot queues, or (a chunk of) the full pass. */
export interface Look {
  /** hot: the recently active queues; sub: the subscribed ones; full: every queue. */
  kind: 'hot' | 'sub' | 'full';
  /** null: every queue in one statement (pgq.ticker_poll's NULL). */
  queues: string[] | null;
}

export class TickPoller {
  readonly #client: pg.ClientBase;
  readonly #tickMs: number;
  readonly #pollMs: number;
  readonly #chunk: number;
  readonly #hot = new Map<string, number>();
  #nextFull = 0;
  #nextScan = 0;
  #nextPoll = 0;
  /** A full pass when the snapshot changed: not before this (20× the last one's duration). */
  #nextFullScan = 0;
  /** The same for the poll of the subscribed queues. */
  #nextSubScan = 0;
  /**
   * The least time between two polls of the subscribed queues: the scan period while their
   * ticks are waited for, doubling up to QUIET_SCAN_MAX_MS while a poll finds no consumer
   * waiting (a busy or stopped one; or commits elsewhere on the server).
   */
  #subScanMs = 0;
  /** POLL_SQL, or POLL_SQL_OLD on SQL installed before pgq.ticker_poll reported `waited`. */
  #pollSql = POLL_SQL;
  readonly #scanMs: number;
  /** 20× the last full pass's duration (at most tickMs): the least time between two. */
  #fullScanMs = 0;
  /** The queues that have a consumer, subscribed ones first in a full pass. */
  #subscribed: string[] = [];
  #snapshot: string | null = null;
  /** When the snapshot look last saw a commit. */
  #changedAt = 0;
  /** A commit seen by a snapshot look that no poll or pass has covered yet. */
  #dirty = false;
  #pollStart = 0;
  /** The full pass in progress: the queue names still to pass over (null: none in progress). */
  #rest: string[] | null = null;
  /** The time the full pass in progress has taken so far, ms. */
  #restMs = 0;
  /** The last look was a latency poll (hot, subscribed): a full pass in progress goes first now. */
  #lastPoll = false;
  /** Queues whose consumer said it waits, since the last poll. */
  readonly #waiting = new Set<string>();
  /** Cuts the ticker loop's sleep short when a consumer says it waits. */
  readonly waker = new Waker();
  /** The second connection for chunked passes and maintenance (null: one connection only). */
  readonly side: SideLane | null;
  /** The subscribed queues' poll by PgQ's rules is due (the pass on `side` leaves them out). */
  #subRules = false;

  private constructor(
    client: pg.ClientBase,
    tickMs: number,
    pollMs: number,
    chunk: number,
    connect: (() => Promise<pg.Client>) | undefined,
  ) {
    this.side = connect ? new SideLane(connect) : null;
    this.#client = client;
    this.#tickMs = tickMs;
    this.#pollMs = pollMs;
    this.#chunk = chunk;
    this.#scanMs = Math.min(tickMs, Math.max(pollMs, MIN_SCAN_MS));
    this.#subScanMs = this.#scanMs;
  }

  /** A poller when the database has pgq.ticker_poll (our SQL), else null (the C extension). */
  static async open(
    client: pg.ClientBase,
    /** chunkQueues: queues per statement of a full pass (CHUNK_QUEUES; smaller in tests). */
    /** connect: a second connection for chunked passes and maintenance (SideLane), opened when needed. */
    o: { tickMs: number; pollMs: number; chunkQueues?: number; connect?: () => Promise<pg.Client> },
  ): Promise<TickPoller | null> {
    const r = await client.query<{ ok: boolean; waited: boolean }>(
      `select p.oid is not null as ok, coalesce('waited' = any (p.proargnames), false) as waited
         from (select to_regprocedure('pgq.ticker_poll(text[], integer)') as f) x
         left join pg_catalog.pg_proc p on p.oid = x.f`,
    );
    if (!r.rows[0]?.ok) return null;
    const poller = new TickPoller(client, o.tickMs, o.pollMs, o.chunkQueues ?? CHUNK_QUEUES, o.connect);
    poller.#pollSql = r.rows[0].waited ? POLL_SQL : POLL_SQL_OLD;
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
    this.#subScanMs = this.#scanMs;
    this.waker.wake();
  }

  /** What to pass over now, or undefined: nothing. */
  async due(now: number): Promise<Look | undefined> {
    const failed = this.side?.takeError();
    if (failed) throw failed;
    for (const [q, at] of this.#hot) if (now - at > HOT_MS) this.#hot.delete(q);
    const hotDue = this.#waiting.size > 0 || (this.#hot.size > 0 && now >= this.#nextPoll);
    const inPass = this.#rest !== null;
    // A pass on the side connection: the latency polls never wait for it.
    const aside = inPass && this.#passAside();
    // The latency polls (hot, subscribed) and the chunks of a full pass take turns, so neither
    // waits behind the other: the first pass after a start (every new queue's tick due) would
    // otherwise hold up the subscribed queues' first events for all its chunks.
    if (aside || !(inPass && this.#lastPoll)) {
      if (hotDue) return { kind: 'hot', queues: [...new Set([...this.#hot.keys(), ...this.#waiting])] };
      if (this.#subRules) {
        this.#subRules = false;
        return { kind: 'sub', queues: this.#subscribed };
      }
      if (inPass && now >= this.#nextScan && (await this.#committed(now)) && this.#subDue(now)) {
        return this.#subLook();
      }
    }
    if (this.#rest) {
      // Its chunk (or maintenance) still runs there: wait for it, the loop is woken when it ends.
      if (aside && this.side?.busy) return undefined;
      return { kind: 'full', queues: this.#rest.slice(0, this.#chunk) };
    }
    let start = now >= this.#nextFull;
    if (!start && now >= this.#nextScan) {
      const changed = await this.#committed(now);
      if (changed && now >= this.#nextFullScan) start = true;
      else if (changed && this.#subDue(now)) return this.#subLook();
    }
    if (!start) return undefined;
    this.#dirty = false;
    const t0 = performance.now();
    // The subscribed queues; and all names (subscribed first: nobody waits for the others' ticks)
    // only when the pass will be chunked: more queues than a chunk, and someone waits for a tick.
    const r = await this.#client.query<{ s: string[]; n: string[] | null }>(
      `select coalesce(array_agg(queue_name order by queue_name) filter (where sub), '{}') as s,
              case when count(*) > $1 and (bool_or(sub) or $2)
                   then array_agg(queue_name order by not sub, queue_name) end as n
         from (select q.queue_name,
                      exists (select 1 from pgq.subscription s where s.sub_queue = q.queue_id) as sub
                 from pgq.queue q
                where not q.queue_external_ticker and not q.queue_ticker_paused) x`,
      [this.#chunk, this.#hot.size > 0],
    );
    const subscribed = r.rows[0]!.s;
    // Many subscribed queues: their poll would be as long as a full pass; the full pass it is.
    this.#subscribed = subscribed.length <= this.#chunk ? subscribed : [];
    this.#restMs = performance.now() - t0;
    const names = r.rows[0]!.n;
    // Few queues, or nobody waiting for a tick (no consumer, nothing hot): one statement over all
    // of them, as before.
    if (!names) return { kind: 'full', queues: null };
    if (this.side && this.#subscribed.length > 0) {
      // The pass goes to the side connection without the subscribed queues, which this one
      // polls by PgQ's rules once now (so no tick of theirs waits for a chunk's row locks).
      await this.side.ready();
      const sub = new Set(this.#subscribed);
      this.#rest = names.filter((n) => !sub.has(n));
      this.#subRules = true;
      if (this.#rest.length === 0) this.#rest = null;
      return this.due(now);
    }
    this.#rest = names;
    return { kind: 'full', queues: names.slice(0, this.#chunk) };
  }

  /** The pass in progress runs its chunks on the side connection. */
  #passAside(): boolean {
    return this.side?.open === true && this.#subscribed.length > 0;
  }

  /** The subscribed queues' poll for a commit seen: that commit is then looked at. */
  #subLook(): Look {
    this.#dirty = false;
    return { kind: 'sub', queues: this.#subscribed };
  }

  /**
   * Whether something committed that no poll has looked at yet (txid_current_snapshot() changed
   * since the last look, or had changed at a look when no poll was due yet: kept until one is).
   */
  async #committed(now: number): Promise<boolean> {
    const r = await this.#client.query<{ s: string }>('select txid_current_snapshot()::text as s');
    if (r.rows[0]!.s !== this.#snapshot) {
      this.#dirty = true;
      this.#changedAt = now;
    }
    const changed = this.#dirty;
    this.#snapshot = r.rows[0]!.s;
    // Nothing subscribed: only a full pass could follow, at most every fullScanMs; look as rarely.
    // Else not before a poll could follow (a change seen stays dirty until one does).
    this.#nextScan =
      this.#subscribed.length > 0
        ? Math.max(now + this.quietScanMs(now), Math.min(this.#nextSubScan, this.#nextFullScan))
        : now + Math.max(this.#scanMs, this.#fullScanMs);
    return changed;
  }

  /** The snapshot look's period now: longer the longer nothing committed (QUIET_SHARE). */
  quietScanMs(now: number): number {
    return Math.max(this.#scanMs, Math.min(QUIET_SCAN_MAX_MS, (now - this.#changedAt) / QUIET_SHARE));
  }

  #subDue(now: number): boolean {
    return now >= this.#nextSubScan && this.#subscribed.length > 0;
  }

  /** One pgq.ticker_poll over what `look` names; reports and returns the new ticks. */
  async pass(
    look: Look,
    stats: TickerStats,
    onTick: TickerOptions['onTick'],
    log: Logger,
  ): Promise<TickEvent[]> {
    const t0 = performance.now();
    if (look.kind === 'hot') {
      // This poll looks at them (every hot one, those waiting included).
      this.#waiting.clear();
      this.#pollStart = Date.now();
    }
    if (look.kind === 'full' && this.#rest && this.#passAside()) {
      // Not waited for: the loop goes on polling here, and is woken when the chunk is done.
      this.side!.run(
        async (side) => {
          await this.#poll(side, look, stats, onTick, log, t0);
        },
        () => this.waker.wake(),
      );
      return [];
    }
    return this.#poll(this.#client, look, stats, onTick, log, t0);
  }

  async #poll(
    client: pg.ClientBase,
    look: Look,
    stats: TickerStats,
    onTick: TickerOptions['onTick'],
    log: Logger,
    t0: number,
  ): Promise<TickEvent[]> {
    const r = await client.query<{
      queue_name: string;
      tick_id: unknown;
      new_events: unknown;
      waited: unknown;
    }>(this.#pollSql, [look.queues, MAX_RULE_TICKS]);
    const now = Date.now();
    // Hot (polled every pollMs) only while a consumer waits for the queue's ticks: one that is
    // busy or stopped gets them by PgQ's rules, and says so when it catches up (WAITING_CHANNEL).
    // Polling a queue nobody waits for cost a busy producer ~14 % of its rate (bench/README.md).
    for (const row of r.rows)
      if (Number(row.new_events) > 0 && row.waited !== false) this.#hot.set(row.queue_name, now);
    const ticks = await reportTicks(r.rows, stats, onTick, log);
    const waited = r.rows.some((row) => Number(row.new_events) > 0 && row.waited !== false);
    this.#passed(look, r.rows.length, waited, performance.now() - t0, stats);
    return ticks;
  }

  /** Schedules the next looks after `look`, which returned `rows` ticks in ms. */
  #passed(look: Look, rows: number, waited: boolean, ms: number, stats: TickerStats): void {
    const now = Date.now();
    this.#lastPoll = look.kind !== 'full';
    if (look.kind === 'sub') {
      stats.polls++;
      // As many ticks by PgQ's rules as one statement makes: the rest of them in the next one.
      if (rows >= MAX_RULE_TICKS && this.#passAside()) this.#subRules = true;
      // At most half the time: a poll of a few named queues, like the hot queues' poll.
      // Nobody waited for what it found: the next one later (doubling, at most the quiet look's
      // period), so a load whose consumer is stopped or behind is not polled 100 times a second.
      this.#subScanMs = waited ? this.#scanMs : Math.min(QUIET_SCAN_MAX_MS, this.#subScanMs * 2);
      this.#nextSubScan = now + Math.max(this.#subScanMs, ms);
      return;
    }
    if (look.kind === 'hot') {
      stats.polls++;
      // Fixed rate from the poll's start, but never back to back when polls run slow (a loaded
      // server): at least half a period in between.
      this.#nextPoll = Math.max(this.#pollStart + this.#pollMs, now + this.#pollMs / 2);
      return;
    }
    this.#restMs += ms;
    // Cut short (as many ticks by PgQ's rules as allowed): the same queues again, the ones just
    // ticked are no longer due. Else on to the next chunk.
    if (this.#rest && rows < MAX_RULE_TICKS) this.#rest = this.#rest.slice(this.#chunk);
    else if (!this.#rest && rows >= MAX_RULE_TICKS) return; // one statement over all: again
    if (this.#rest && this.#rest.length > 0) return;
    this.#rest = null;
    stats.tickerCalls++;
    stats.passMs = this.#restMs;
    this.#nextFull = now + this.#tickMs;
    this.#fullScanMs = Math.min(this.#tickMs, this.#restMs * SCAN_SHARE);
    this.#nextFullScan = now + this.#fullScanMs;
    this.#nextScan = now + (this.#subscribed.length > 0 ? this.#scanMs : this.#fullScanMs);
  }

  /** When the loop should look again (sooner when `waker` is woken: a consumer waits). */
  nextAt(): number {
    if (this.#waiting.size > 0 || this.#subRules) return 0;
    if (this.#rest && !(this.#passAside() && this.side?.busy)) return 0;
    // A pass whose chunk runs on the side connection: the next full pass is not due before it ends.
    const full = this.#rest ? Infinity : this.#nextFull;
    return Math.min(full, this.#nextScan, this.#hot.size > 0 ? this.#nextPoll : Infinity);
  }
}
