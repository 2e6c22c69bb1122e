// resurrect: an old root (or branch) that was failed over comes back as a branch of the new root,
// at the position the new root kept for it; the events the rest of the cascade never saw are
// dumped to a JSON file and deleted first.
import { writeFileSync } from 'node:fs';
import type pg from 'pg';
import { toBigInt } from '../db/connection.ts';
import { quoteIdent } from '../db/ident.ts';
import { inTransaction } from '../db/transaction.ts';
import type { AdminSession } from './admin-session.ts';
import { CascadeError, getNodeInfo, nodeCmd } from './node.ts';

/**
 * Brings an old root (or branch) that was failed over back as a branch of the new root: finds
 * the position the new root kept for it (the `<node>.gravestone` subscriber), demotes and pauses
 * the local node, drops its old subscribers and consumers, writes the events the rest of the
 * cascade never saw to `dumpFile` (JSON) and deletes them, and subscribes the node at that
 * position. The worker stays paused; resume it after looking at the dump.
 */
export async function resurrect(
  s: AdminSession,
  o: { dumpFile?: string } = {},
): Promise<{ failoverTick: bigint; dumped: number; deleted: number }> {
  const local = s.localInfo;
  const q = s.queue;
  if (local.nodeType === 'leaf')
    throw new CascadeError('node_state', 'this node is a leaf: nothing to resurrect');
  const me = s.localName;
  const db = await s.local();
  const subs = (await db.query('select node_name from pgq_node.get_subscriber_info($1)', [q])).rows.map(
    (r) => r.node_name as string,
  );
  const grave = `${me}.gravestone`;
  let provNode: string | null = null;
  let failoverTick: bigint | null = null;
  let rootNode: string | null = null;
  const done = new Set([me]);
  for (const n of [...subs, ...s.members.keys()]) {
    if (done.has(n)) continue;
    done.add(n);
    if (!s.alive(n)) continue;
    try {
      const ndb = (await s.nodeDb(n))!;
      const c = await ndb.query('select last_tick from pgq.get_consumer_info($1, $2)', [q, grave]);
      const info = await getNodeInfo(ndb, q);
      if (c.rows.length === 1) {
        if (provNode)
          throw new CascadeError('node_state', `two gravestones for ${me}: on ${provNode} and ${n}`);
        provNode = n;
        failoverTick = toBigInt(c.rows[0].last_tick);
      }
      if (info.nodeType === 'root') rootNode = n;
      if (rootNode && provNode) break;
    } catch (err) {
      if (err instanceof CascadeError) throw err;
      s.log.warn('cannot check node', { node: n, error: (err as Error).message });
    }
  }
  if (!rootNode) throw new CascadeError('unknown_node', 'cannot find the new root node');
  if (!provNode || failoverTick == null)
    throw new CascadeError('unknown_node', `cannot find the failover position (${grave})`);
  const ws = (await db.query('select * from pgq_node.get_worker_state($1)', [q])).rows[0];
  const worker = ws.worker_name as string;
  if (local.nodeType === 'root') {
    await nodeCmd(db, 'select * from pgq_node.demote_root($1, 1, $2)', [q, provNode]);
    await nodeCmd(db, 'select * from pgq_node.demote_root($1, 2, $2)', [q, provNode]);
    await inTransaction(db, async () => {
      await nodeCmd(db, 'select * from pgq_node.demote_root($1, 3, $2)', [q, provNode]);
      await nodeCmd(db, 'select * from pgq_node.set_consumer_paused($1, $2, true)', [q, worker]);
    });
  } else if (!ws.paused) {
    await nodeCmd(db, 'select * from pgq_node.set_consumer_paused($1, $2, true)', [q, worker]);
  }
  await inTransaction(db, async () => {
    for (const s of subs) await db.query('select * from pgq_node.unregister_subscriber($1, $2)', [q, s]);
    const cons = await db.query('select consumer_name from pgq.get_consumer_info($1)', [q]);
    for (const r of cons.rows) {
      if (!String(r.consumer_name).startsWith('.'))
        await db.query('select pgq.unregister_consumer($1, $2)', [q, r.consumer_name]);
    }
  });
  const { dumped, deleted } = await dumpLostEvents(
    s,
    db,
    me,
    failoverTick,
    o.dumpFile ?? 'resurrect-lost-events.json',
  );
  await nodeCmd(db, 'select * from pgq_node.set_consumer_completed($1, $2, $3)', [q, worker, failoverTick]);
  const pdb = (await s.nodeDb(provNode))!;
  let gwm: unknown;
  await inTransaction(pdb, async () => {
    await pdb.query('select * from pgq_node.unregister_subscriber($1, $2)', [q, me]);
    const r = await nodeCmd<{ ret_code: number; ret_note: string; global_watermark: unknown }>(
      pdb,
      'select * from pgq_node.register_subscriber($1, $2, $3, $4)',
      [q, me, worker, failoverTick],
    );
    gwm = r.global_watermark;
  });
  await nodeCmd(db, 'select * from pgq_node.set_global_watermark($1, $2)', [q, gwm]);
  s.log.info('resurrection done; worker paused', { failoverTick, dumped, deleted, provider: provNode });
  return { failoverTick, dumped, deleted };
}

/** Reads the events after the failover tick into a JSON file and deletes them and their ticks. */
async function dumpLostEvents(
  s: AdminSession,
  db: pg.Client,
  me: string,
  failoverTick: bigint,
  file: string,
) {
  const q = s.queue;
  const cons = `${me}.dumper`;
  await db.query('select pgq.register_consumer_at($1, $2, $3)', [q, cons, failoverTick]);
  const lost: Record<string, unknown>[] = [];
  let finalTick = failoverTick;
  for (;;) {
    const b = (await db.query('select * from pgq.next_batch_info($1, $2)', [q, cons])).rows[0];
    if (b.batch_id == null) break;
    finalTick = toBigInt(b.cur_tick_id);
    for (const ev of (await db.query('select * from pgq.get_batch_events($1)', [b.batch_id])).rows) {
      lost.push({ ...ev, tick_id: b.cur_tick_id, prev_tick_id: b.prev_tick_id });
    }
    await db.query('select pgq.finish_batch($1)', [b.batch_id]);
  }
  await db.query('select pgq.unregister_consumer($1, $2)', [q, cons]);
  if (lost.length) {
    writeFileSync(
      file,
      `${JSON.stringify(lost, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
    );
    s.log.warn(`${lost.length} events the new root never saw written to ${file}`);
  }
  if (finalTick === failoverTick) return { dumped: lost.length, deleted: 0 };
  let deleted = 0;
  await inTransaction(db, async () => {
    const qi = (
      await db.query('select queue_id, queue_ntables, queue_data_pfx from pgq.queue where queue_name = $1', [
        q,
      ])
    ).rows[0];
    const [schema, table] = String(qi.queue_data_pfx).split('.');
    // Exactly the events of batches failoverTick..finalTick: same visibility rule as a batch.
    for (let i = 0; i < qi.queue_ntables; i++) {
      const r = await db.query(
        `delete from ${quoteIdent(schema!)}.${quoteIdent(`${table}_${i}`)} e
          using pgq.tick t1, pgq.tick t2
          where t1.tick_queue = $1 and t1.tick_id = $2 and t2.tick_queue = $1 and t2.tick_id = $3
            and not txid_visible_in_snapshot(e.ev_txid, t1.tick_snapshot)
            and txid_visible_in_snapshot(e.ev_txid, t2.tick_snapshot)`,
        [qi.queue_id, failoverTick, finalTick],
      );
      deleted += r.rowCount ?? 0;
    }
    await db.query('delete from pgq.tick where tick_queue = $1 and tick_id > $2 and tick_id <= $3', [
      qi.queue_id,
      failoverTick,
      finalTick,
    ]);
  });
  return { dumped: lost.length, deleted };
}
