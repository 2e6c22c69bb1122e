// CascadeWorker is extensible the way Londiste's replay needs (the original's CascadedWorker →
// Replicator): a subclass overrides the per-batch step (processRemoteBatch, calling super) and the
// per-event one (processRemoteEvent) and applies the events to a table on the leaf, inside the
// worker's local transaction — so a batch that fails half-way is rolled back and applied again
// whole, never twice.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CascadeBatch, CascadeWorker } from '../../layers/cascade/worker.ts';
import type { PgqEvent } from '../../layers/pgq/consumer.ts';
import { targetNames } from '../support/targets.ts';
import { Cluster, connectUrl, createNodeDb, type OwnedNodeDb, waitUntil } from './cluster.ts';

/** Applies "add:key:n" / "del:key" events to table kv (key, total) and records the last tick. */
class ApplyingWorker extends CascadeWorker {
  batches = 0;
  failOnce: string | null = null;

  protected override async processRemoteBatch(
    batch: CascadeBatch,
    local: pg.ClientBase,
    provider: pg.ClientBase,
  ): Promise<void> {
    this.batches++;
    await super.processRemoteBatch(batch, local, provider); // → processRemoteEvent per user event
    await local.query('update kv_state set last_tick = $1', [batch.tickId]);
    this.log.debug('kv batch applied', { tickId: batch.tickId });
  }

  protected override async processRemoteEvent(
    _batch: CascadeBatch,
    ev: PgqEvent,
    local: pg.ClientBase,
  ): Promise<void> {
    const [op, key, n] = (ev.data ?? '').split(':');
    if (op === 'add') {
      await local.query(
        'insert into kv (key, total) values ($1, $2) on conflict (key) do update set total = kv.total + excluded.total',
        [key, Number(n)],
      );
    } else if (op === 'del') {
      await local.query('delete from kv where key = $1', [key]);
    }
    if (this.failOnce === ev.data) {
      this.failOnce = null;
      throw new Error(`injected failure after applying ${ev.data}`);
    }
  }
}

for (const target of targetNames) {
  let dbs: OwnedNodeDb[] = [];
  let c: Cluster;
  let leaf: ApplyingWorker;
  const ctl = new AbortController();
  let leafDone: Promise<unknown> = Promise.resolve();

  beforeAll(async () => {
    dbs = await Promise.all([createNodeDb(target), createNodeDb(target), createNodeDb(target)]);
    const [r, b, l] = dbs as [OwnedNodeDb, OwnedNodeDb, OwnedNodeDb];
    c = new Cluster({ r1: r, b1: b, l1: l });
    await l.query('create table kv (key text primary key, total int not null)');
    await l.query('create table kv_state (last_tick int8)');
    await l.query('insert into kv_state values (null)');
    await c.build('r1', 'b1', 'l1');
  });

  afterAll(async () => {
    ctl.abort();
    await leafDone;
    await c?.stopAll();
    await Promise.all(dbs.map((d) => d.drop()));
  });

  describe(`a CascadeWorker subclass applies events on the leaf (${target})`, () => {
    it('applies every event once through the overridden hooks, also across a failed batch', async () => {
      c.startTicker('r1');
      c.startWorker('r1');
      c.startWorker('b1');
      leaf = new ApplyingWorker({
        queue: c.queue,
        worker: 'w_l1',
        connectLocal: connectUrl(c.nodes.l1!.url),
        loopDelayMs: 100,
        maxBackoffMs: 200,
        signal: ctl.signal,
      });
      // The second add to "b" fails after its insert: that whole batch must roll back and come again.
      leaf.failOnce = 'add:b:20';
      leafDone = leaf.run();

      const root = c.nodes.r1!;
      const ev = (data: string) => root.query("select pgq.insert_event($1, 'kv', $2)", [c.queue, data]);
      await ev('add:a:1');
      await ev('add:b:2');
      await ev('add:a:10');
      await ev('add:b:20');
      await ev('add:c:5');
      await ev('del:c');
      await ev('add:a:100');

      const l = c.nodes.l1!;
      await waitUntil('the leaf applied every event', async () => {
        const r = await l.query('select key, total from kv order by key');
        return (
          JSON.stringify(r.rows) ===
          JSON.stringify([
            { key: 'a', total: 111 },
            { key: 'b', total: 22 },
          ])
        );
      });
      expect(leaf.failOnce).toBeNull(); // the failure happened
      expect(leaf.stats.errors).toBeGreaterThanOrEqual(1);
      expect(leaf.batches).toBeGreaterThanOrEqual(2);

      // The batch hook ran in the transaction that recorded the batch as done: the tick it wrote
      // is the leaf's completed tick.
      // (Read together, in one snapshot: the ticker goes on, so a later batch may land between two reads.)
      const { completed, written } = await waitForCompleted(c, leaf);
      expect(written).toBe(completed);
    });
  });
}

/** The leaf worker's completed tick and the tick its hook wrote, read in one snapshot, once equal. */
async function waitForCompleted(
  c: Cluster,
  worker: CascadeWorker,
): Promise<{ completed: bigint; written: bigint }> {
  const l = c.nodes.l1!;
  let seen: { completed: bigint; written: bigint } | null = null;
  await waitUntil('the leaf worker to settle', async () => {
    const r = await l.query(
      `select s.last_tick_id as completed, (select last_tick from kv_state) as written
         from pgq_node.local_state s where s.queue_name = $1 and s.consumer_name = $2`,
      [c.queue, worker.opts.worker],
    );
    const row = r.rows[0] as { completed: bigint | null; written: bigint | null } | undefined;
    if (row?.completed == null || row.written == null) return false;
    seen = { completed: row.completed, written: row.written };
    return row.completed === row.written;
  });
  return seen!;
}
