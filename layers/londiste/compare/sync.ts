// Both sides of a replicated table at one tick, for compare and repair: REPEATABLE READ snapshots
// on the provider and on the subscriber that hold exactly the rows of tick T, on as many
// connections per side as the caller wants (one exported snapshot imported by the others).
//
// Provider (root): no user table is locked. One transaction takes an EXCLUSIVE lock on pgq.queue
// and SHARE ROW EXCLUSIVE on pgq.tick (both before its snapshot: LOCK takes none), so no other
// ticker is between its row lock / tick id and its insert; then it takes its snapshot, exports
// it, forces and makes a tick itself. That tick's txid snapshot is the exported snapshot, so a
// subscriber that has applied every batch up to T holds what the exported snapshot sees. The
// locks last for the few statements of this transaction; producers and consumers never wait for
// them, other tickers (pgqd, ours) wait those milliseconds. The tick is announced on the
// queue's tick channel (as the ticker announces its own), so the workers take it at once. Needs UPDATE (or DELETE/TRUNCATE)
// on pgq.queue and pgq.tick, as an admin has.
// Under writes the ticker makes T+1, T+2 while the worker is on its way to T, and a worker that is
// behind takes several ticks in one batch (Londiste's catch-up batches): it steps over T, and the
// compare has to start again. So a second connection (the gate) asks for the queue's pgq.queue
// row FOR SHARE while the exporting transaction still holds its locks (its request queued first,
// checked in pg_locks): granted at that commit, it keeps pgq.ticker(queue) — which takes that row
// FOR NO KEY UPDATE — from making a newer tick until the subscriber stands at T (at most
// TICK_HOLD_MS). A ticker already waiting before the gate finds no tick due right after T (no lag,
// hardly any events). Producers, consumers and the tickers of other queues never touch the row's
// lock; a ticker of this queue waits those milliseconds. When a tick slipped in anyway (or a
// ticker that takes no row lock, the original's), the gate is let go and the retry below remains.
// Provider (branch): its tables change only by its own worker, whose batch transaction also
// records the tick it completed, so a snapshot of the branch reads that tick with the rows.
//
// Subscriber: its worker records the completed tick in pgq_node.local_state in the transaction
// that applies the batch, and starts every batch by locking that row. So: lock the row FOR SHARE
// (the worker cannot start its next batch), read the tick; below T → release and ask again at
// once (the request then waits for the batch the worker is in, and is granted before its next
// one; after spinMs with a pause of pollMs); = T → open the snapshot(s) while still holding the row, so they see exactly tick T;
// above T (it went past between two polls) → start again with a new tick. For compare the row
// is released as soon as the snapshots exist; repair --apply keeps it (the `hold` connection)
// until its fixes are committed, so no replayed event lands between the snapshot and the fixes.
import type pg from 'pg';
import { toBigInt } from '../../db/connection.ts';
import { tickChannel } from '../../pgq/tick-notify.ts';
import type { Logger } from '../../util/log.ts';
import { sleep } from '../../util/sleep.ts';
import { LondisteError } from '../errors.ts';

export interface SyncOptions {
  queue: string;
  /** 'root' makes its own tick; anything else reads the provider worker's completed tick. */
  providerType: string;
  /** The provider node's worker (for a branch provider). */
  providerWorker: string | null;
  subscriberWorker: string;
  connectProvider: () => Promise<pg.Client>;
  connectSubscriber: () => Promise<pg.Client>;
  /** Connections per side sharing the snapshot (default 1). */
  parallel?: number;
  /** Keep the subscriber worker stopped at the tick until release (repair --apply). */
  holdWorker?: boolean;
  pollMs?: number;
  /** How long the subscriber's row is asked for again without a pause (default 2000 ms). */
  spinMs?: number;
  /** How long the subscriber may take to reach the tick (0: no limit). */
  timeoutMs?: number;
  /** Bounds the lock waits on the provider (ms; 0: none). */
  lockTimeoutMs?: number;
  log: Logger;
  signal?: AbortSignal;
}

export interface SyncedSnapshots {
  tick: bigint;
  provider: pg.Client[];
  subscriber: pg.Client[];
  /** Holds the subscriber worker's row lock (holdWorker), in an open READ COMMITTED transaction. */
  hold: pg.Client | null;
  /** How long getting there took, and in how many tries (the worker ran past the tick before). */
  syncMs: number;
  attempts: number;
  /** Ends every transaction (rolled back: they only read) and closes the connections. */
  release(): Promise<void>;
}

/** Same text from both servers: the output functions of dates, floats, intervals, bytea. */
export const SESSION_SETTINGS = [
  "set local timezone = 'UTC'",
  "set local datestyle = 'ISO, YMD'",
  "set local intervalstyle = 'postgres'",
  'set local extra_float_digits = 1',
  "set local bytea_output = 'hex'",
].join('; ');

const MAX_ATTEMPTS = 20;

async function closeAll(conns: readonly (pg.Client | null)[]): Promise<void> {
  await Promise.all(
    conns.map(async (c) => {
      if (!c) return;
      await c.query('rollback').catch(() => {});
      await c.end().catch(() => {});
    }),
  );
}

/** Opens connections at once; when one fails, the others are closed and its error thrown. */
async function connectAll(connects: readonly (() => Promise<pg.Client>)[]): Promise<pg.Client[]> {
  const r = await Promise.allSettled(connects.map((c) => c()));
  const failed = r.find((x) => x.status === 'rejected');
  const ok = r.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
  if (failed) {
    await closeAll(ok);
    throw failed.reason;
  }
  return ok;
}

/**
 * Connections opened up front, with the others of the way there, and handed out first: opening
 * them when the snapshot is exported would put each side's connection start-ups on the way
 * (on the provider while its locks are held). Retries connect anew.
 */
class Spares {
  private readonly list: pg.Client[];
  private readonly open: () => Promise<pg.Client>;

  constructor(list: pg.Client[], open: () => Promise<pg.Client>) {
    this.list = list;
    this.open = open;
  }

  readonly connect = (): Promise<pg.Client> => {
    const c = this.list.pop();
    return c ? Promise.resolve(c) : this.open();
  };

  close(): Promise<void> {
    return closeAll(this.list.splice(0));
  }
}

/** Opens `n - 1` more connections importing the snapshot `snap` exported by another one. */
async function importSnapshot(
  connect: () => Promise<pg.Client>,
  snap: string,
  n: number,
): Promise<pg.Client[]> {
  const out: pg.Client[] = [];
  try {
    // Connecting is most of the cost here: all at once, while the exporter waits.
    await Promise.all(
      Array.from({ length: n }, async () => {
        const c = await connect();
        out.push(c);
        await c.query('begin isolation level repeatable read read only');
        await c.query(`set transaction snapshot '${snap.replaceAll("'", "''")}'`);
        await c.query(SESSION_SETTINGS);
      }),
    );
    return out;
  } catch (err) {
    await closeAll(out);
    throw err;
  }
}

interface SideSpares {
  provider: Spares;
  subscriber: Spares;
}

interface ProviderSide {
  tick: bigint;
  conns: pg.Client[];
  /** Holds the provider's ticker at T until released (root only; null when it could not). */
  gate: TickGate | null;
}

/** How long the gate may keep the provider's ticker at T while the subscriber gets there. */
const TICK_HOLD_MS = 5000;

/**
 * The gate: `c` asks for the queue's pgq.queue row FOR SHARE while `holder` (the exporting
 * transaction) still holds pgq.queue exclusively, and waits (bounded) until the server shows the
 * request queued, so it is granted at holder's commit before any ticker that asks later.
 */
class TickGate {
  private readonly c: pg.Client;
  private granted: Promise<boolean>;
  private open = true;
  readonly since = Date.now();

  private constructor(c: pg.Client, granted: Promise<boolean>) {
    this.c = c;
    this.granted = granted;
  }

  static async queue(c: pg.Client, holder: pg.Client, queue: string, lockTimeoutMs?: number) {
    await c.query('begin');
    const pid = (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    if (lockTimeoutMs) await c.query(`set local lock_timeout = ${Math.round(lockTimeoutMs)}`);
    let settled = false;
    const granted = c
      .query('select 1 from pgq.queue where queue_name = $1 for share', [queue])
      .then(
        () => true,
        () => false,
      )
      .finally(() => {
        settled = true;
      });
    for (let i = 0; i < 50 && !settled; i++) {
      const r = await holder.query(
        'select exists (select 1 from pg_locks where pid = $1 and not granted) as w',
        [pid],
      );
      if (r.rows[0]?.w) break;
    }
    return new TickGate(c, granted);
  }

  /** After holder's commit: true when the gate holds the row and no tick after `tick` exists. */
  async holds(queue: string, tick: bigint): Promise<boolean> {
    if (!(await this.granted)) return false;
    const r = await this.c.query(
      `select max(t.tick_id) as t from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
        where q.queue_name = $1`,
      [queue],
    );
    return r.rows[0]?.t != null && toBigInt(r.rows[0].t) === tick;
  }

  /** Lets the ticker go (the connection stays open for the next attempt). */
  async release(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.granted;
    await this.c.query('rollback').catch(() => {});
  }
}

/** The root makes tick T in the transaction whose snapshot it exports (see the header). */
async function rootSnapshot(
  o: SyncOptions,
  n: number,
  p0: pg.Client,
  gateConn: pg.Client | null,
  spares: SideSpares,
): Promise<ProviderSide> {
  let gate: TickGate | null = null;
  try {
    await p0.query('begin isolation level repeatable read');
    if (o.lockTimeoutMs) await p0.query(`set local lock_timeout = ${Math.round(o.lockTimeoutMs)}`);
    await p0.query('lock table pgq.queue in exclusive mode');
    await p0.query('lock table pgq.tick in share row exclusive mode');
    const snap = (await p0.query<{ s: string }>('select pg_export_snapshot() as s')).rows[0]!.s;
    await p0.query('select pgq.force_tick($1)', [o.queue]);
    const t = (await p0.query('select pgq.ticker($1) as t', [o.queue])).rows[0]?.t;
    if (t == null)
      throw new LondisteError('state', `queue ${o.queue}: the provider did not tick (ticker paused?)`);
    // pgq.ticker() announces nothing (only the ticker loop does): without this NOTIFY, sent at
    // the commit below, the subscriber's worker would take the tick after its loop_delay.
    await p0.query('select pg_notify($1, $2)', [tickChannel(o.queue), String(t)]);
    const [conns, g] = await Promise.all([
      importSnapshot(spares.provider.connect, snap, n),
      gateConn ? TickGate.queue(gateConn, p0, o.queue, o.lockTimeoutMs) : null,
    ]);
    gate = g;
    await p0.query('commit');
    const tick = toBigInt(t);
    if (gate && !(await gate.holds(o.queue, tick))) {
      await gate.release();
      gate = null;
    }
    return { tick, conns, gate };
  } catch (err) {
    await p0.query('rollback').catch(() => {});
    await gate?.release();
    throw err;
  }
}

/** A branch: its snapshot and the tick its worker had completed in it. */
async function branchSnapshot(o: SyncOptions, n: number, spares: SideSpares): Promise<ProviderSide> {
  if (!o.providerWorker)
    throw new LondisteError('state', `queue ${o.queue}: the provider node has no worker`);
  const p0 = await spares.provider.connect();
  try {
    await p0.query('begin isolation level repeatable read read only');
    await p0.query(SESSION_SETTINGS);
    const r = await p0.query(
      `select last_tick_id, pg_export_snapshot() as s from pgq_node.local_state
        where queue_name = $1 and consumer_name = $2`,
      [o.queue, o.providerWorker],
    );
    if (!r.rows[0])
      throw new LondisteError('state', `queue ${o.queue}: provider worker ${o.providerWorker} not found`);
    const conns = n > 1 ? await importSnapshot(spares.provider.connect, r.rows[0].s, n - 1) : [];
    return { tick: toBigInt(r.rows[0].last_tick_id), conns: [p0, ...conns], gate: null };
  } catch (err) {
    await closeAll([p0]);
    throw err;
  }
}

type SubscriberResult =
  | { kind: 'ok'; conns: pg.Client[]; hold: pg.Client | null }
  | { kind: 'past'; at: bigint };

/** `hold` is the caller's connection (left open); `c0` becomes the first snapshot's or is closed. */
async function subscriberAt(
  o: SyncOptions,
  tick: bigint,
  n: number,
  hold: pg.Client,
  c0: pg.Client,
  gate: TickGate | null,
  spares: SideSpares,
): Promise<SubscriberResult> {
  const started = Date.now();
  let lastLog = started;
  try {
    for (;;) {
      if (gate && Date.now() - gate.since > TICK_HOLD_MS) {
        await gate.release();
        gate = null;
      }
      await hold.query('begin');
      const r = await hold.query(
        'select last_tick_id from pgq_node.local_state where queue_name = $1 and consumer_name = $2 for share',
        [o.queue, o.subscriberWorker],
      );
      if (!r.rows[0])
        throw new LondisteError(
          'state',
          `queue ${o.queue}: worker ${o.subscriberWorker} is not registered here`,
        );
      const at = toBigInt(r.rows[0].last_tick_id);
      if (at === tick) {
        let conns: pg.Client[] = [c0];
        try {
          await c0.query('begin isolation level repeatable read read only');
          await c0.query(SESSION_SETTINGS);
          const snap = (await c0.query<{ s: string }>('select pg_export_snapshot() as s')).rows[0]!.s;
          if (n > 1) conns = [c0, ...(await importSnapshot(spares.subscriber.connect, snap, n - 1))];
        } catch (err) {
          await closeAll(conns);
          throw err;
        }
        if (!o.holdWorker) {
          await hold.query('rollback');
          return { kind: 'ok', conns, hold: null };
        }
        return { kind: 'ok', conns, hold };
      }
      await hold.query('rollback');
      if (at > tick) {
        await closeAll([c0]);
        return { kind: 'past', at };
      }
      if (o.signal?.aborted) throw new LondisteError('timeout', 'cancelled');
      const waited = Date.now() - started;
      if (o.timeoutMs && waited > o.timeoutMs)
        throw new LondisteError(
          'timeout',
          `the worker ${o.subscriberWorker} did not reach tick ${tick} within ${o.timeoutMs} ms ` +
            `(it is at ${at}); is it running? (--force waits without a limit)`,
        );
      if (Date.now() - lastLog > 5000) {
        o.log.info(`waiting for the worker to reach tick ${tick} (at ${at})`);
        lastLog = Date.now();
      }
      // The worker takes the tick at once (NOTIFY). With the gate it cannot go past T: a short
      // pause leaves the cores to it. Without, under writes it takes the next tick right after:
      // the row is free only between its batches. Asking again at once, our lock request is
      // queued while its batch (to T) runs and granted before its next batch starts; a sleep
      // here would let it run past T. Polled only after spinMs (a worker slow to take it).
      if (gate) await sleep(Math.min(5, o.pollMs ?? 20), o.signal);
      else if (Date.now() - started > (o.spinMs ?? 2000)) await sleep(o.pollMs ?? 20, o.signal);
    }
  } catch (err) {
    await hold.query('rollback').catch(() => {});
    await closeAll([c0]);
    throw err;
  }
}

/**
 * Waits (unlocked) until the subscriber has completed the provider's current last tick. A worker
 * far behind reads multi-tick batches and would step over a new tick; one that is caught up has
 * one batch to go, which the locked poll then catches.
 */
async function catchUp(o: SyncOptions, deadline: number, p: pg.Client, s: pg.Client): Promise<void> {
  const r = await p.query(
    `select max(t.tick_id) as t from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
        where q.queue_name = $1`,
    [o.queue],
  );
  if (r.rows[0]?.t == null) return;
  const last = toBigInt(r.rows[0].t);
  for (;;) {
    const c = await s.query(
      'select last_tick_id from pgq_node.local_state where queue_name = $1 and consumer_name = $2',
      [o.queue, o.subscriberWorker],
    );
    if (!c.rows[0] || toBigInt(c.rows[0].last_tick_id) >= last) return;
    if (o.signal?.aborted || Date.now() > deadline) return; // the locked poll reports the timeout
    await sleep(o.pollMs ?? 20, o.signal);
  }
}

/**
 * Snapshots of both sides at one tick (see the header); retried when the worker ran past it. The
 * connections of the way there (the catch-up poll, the exporting root transaction, the worker's
 * row, the first subscriber snapshot) are opened at once up front and reused: at a load of 18,
 * each connection opened one after the other cost ~0.1 s.
 */
export async function syncSnapshots(o: SyncOptions): Promise<SyncedSnapshots> {
  const n = Math.max(1, o.parallel ?? 1);
  const started = Date.now();
  const root = o.providerType === 'root';
  // The provider's snapshot connections: n imports on a root (its exporter is pc), the exporter
  // and n - 1 imports on a branch; the subscriber's: n - 1 imports (its exporter is `first`).
  // On a root one more provider connection: the tick gate.
  const fixed = root ? 4 : 3;
  const all = await connectAll([
    o.connectProvider,
    o.connectSubscriber,
    o.connectSubscriber,
    ...(root ? [o.connectProvider] : []),
    ...Array.from({ length: n }, () => o.connectProvider),
    ...Array.from({ length: n - 1 }, () => o.connectSubscriber),
  ]);
  const [pc, sc, first] = all as [pg.Client, pg.Client, pg.Client];
  const gc = root ? all[3] : undefined;
  const spares: SideSpares = {
    provider: new Spares(all.slice(fixed, fixed + n), o.connectProvider),
    subscriber: new Spares(all.slice(fixed + n), o.connectSubscriber),
  };
  let c0: pg.Client | null = first;
  let held = false;
  let gated = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      await catchUp(o, o.timeoutMs ? started + o.timeoutMs : Number.POSITIVE_INFINITY, pc, sc);
      const p = root ? await rootSnapshot(o, n, pc, gc ?? null, spares) : await branchSnapshot(o, n, spares);
      let s: SubscriberResult;
      try {
        const c = c0 ?? (await o.connectSubscriber());
        c0 = null;
        s = await subscriberAt(o, p.tick, n, sc, c, p.gate, spares);
      } catch (err) {
        await closeAll(p.conns);
        throw err;
      } finally {
        await p.gate?.release();
      }
      if (p.gate) gated++;
      if (s.kind === 'ok') {
        const { conns, hold } = s;
        held = hold !== null;
        const syncMs = Date.now() - started;
        o.log.debug(`snapshots at tick ${p.tick} after ${syncMs} ms, ${attempt} attempt(s), ${gated} gated`, {
          tickId: p.tick,
        });
        return {
          tick: p.tick,
          provider: p.conns,
          subscriber: conns,
          hold,
          syncMs,
          attempts: attempt,
          release: () => closeAll([...p.conns, ...conns, hold]),
        };
      }
      await closeAll(p.conns);
      if (attempt >= MAX_ATTEMPTS)
        throw new LondisteError(
          'timeout',
          `the worker ${o.subscriberWorker} kept moving past the compare tick (${attempt} attempts)`,
        );
      o.log.debug(`worker went past tick ${p.tick} (at ${s.at}); again`);
    }
  } finally {
    // Not awaited: the snapshots are ready; closing these is off the way.
    void closeAll([pc, held ? null : sc, c0, gc ?? null]);
    void spares.provider.close();
    void spares.subscriber.close();
  }
}

/**
 * syncSnapshots started ahead of the work that decides whether it is needed (compare and repair
 * read the tables' setup while it opens its connections and waits for the tick): `snapshots()`
 * waits for it, `callOff()` cancels it and releases whatever it took.
 */
export function startSync(o: Omit<SyncOptions, 'signal'>): {
  snapshots(): Promise<SyncedSnapshots>;
  callOff(): Promise<void>;
} {
  const cancel = new AbortController();
  const settled = syncSnapshots({ ...o, signal: cancel.signal }).then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  return {
    async snapshots() {
      const r = await settled;
      if (!r.ok) throw r.e;
      return r.v;
    },
    async callOff() {
      cancel.abort();
      const r = await settled;
      if (r.ok) await r.v.release();
    },
  };
}
