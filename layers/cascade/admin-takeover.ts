// Changing who reads from whom: change-provider for one cascaded consumer, and takeover — a
// switchover of a live root (pause, demote steps 1–2, catch up, promote, demote step 3) or branch,
// or a failover past a dead one (--dead-root / --dead-branch: tag it dead, move its subscribers,
// promote the best-positioned node, keep a `<old>.gravestone` subscription for resurrect).
import { toBigInt } from '../db/connection.ts';
import { tagDead } from './admin-membership.ts';
import type { AdminSession } from './admin-session.ts';
import { CascadeError, type NodeType } from './node.ts';

export interface TakeoverOptions {
  /** The node taking over (default: the local node). */
  newNode?: string;
  /** Failover: the old node is a dead root / dead branch, do not contact it. */
  deadRoot?: boolean;
  deadBranch?: boolean;
  /** Move all subscribers of the old node to the new one as well. */
  all?: boolean;
}

/** Moves a consumer of `node` to read from `newProvider`, at the position it has reached. */
export async function changeProvider(
  s: AdminSession,
  node: string,
  consumer: string,
  newProvider: string,
): Promise<void> {
  if (!newProvider) throw new CascadeError('usage', 'change-provider needs --provider=<node name>');
  if (node === newProvider) throw new CascadeError('usage', `node ${node} cannot subscribe to itself`);
  const q = s.queue;
  const cinfo = await s.consumerInfo(node, consumer);
  const old = cinfo.provider_node as string;
  if (old === newProvider) {
    s.log.info(`consumer ${consumer} at ${node} already reads from ${newProvider}`);
    return;
  }
  await s.setPaused(node, consumer, true);
  const ninfo = await s.nodeInfo(node);
  const after = await s.consumerInfo(node, consumer);
  const isWorker = ninfo.workerName === consumer;
  const loc = s.members.get(node)?.location ?? null;
  await s.nodeCmd(newProvider, 'select * from pgq_node.register_location($1, $2, $3, false)', [q, node, loc]);
  if (isWorker) {
    await s.nodeCmd(newProvider, 'select * from pgq_node.register_subscriber($1, $2, $3, $4)', [
      q,
      node,
      consumer,
      after.last_tick_id,
    ]);
  } else {
    const db = await s.nodeDb(newProvider);
    await db?.query('select pgq.register_consumer_at($1, $2, $3)', [q, consumer, after.last_tick_id]);
  }
  await s.nodeCmd(node, 'select * from pgq_node.change_consumer_provider($1, $2, $3)', [
    q,
    consumer,
    newProvider,
  ]);
  await s.setPaused(node, consumer, false);
  try {
    if (isWorker) await s.nodeCmd(old, 'select * from pgq_node.unregister_subscriber($1, $2)', [q, node]);
    else await (await s.nodeDb(old))?.query('select pgq.unregister_consumer($1, $2)', [q, consumer]);
  } catch (err) {
    s.log.warn('could not unregister from the old provider', {
      provider: old,
      error: (err as Error).message,
    });
  }
  s.log.info(`${node}/${consumer}: provider changed from ${old} to ${newProvider}`);
}

/** `newNode` (default: the local node) takes the place of `oldNode`; loadLocal must have run. */
export async function takeover(s: AdminSession, oldNode: string, o: TakeoverOptions = {}): Promise<void> {
  const newNode = o.newNode ?? s.localName;
  if (!s.members.has(oldNode)) throw new CascadeError('unknown_node', `unknown node: ${oldNode}`);
  if (oldNode === newNode) throw new CascadeError('usage', `node ${newNode} cannot take over itself`);
  let oldType: NodeType;
  const failover = !!(o.deadRoot || o.deadBranch);
  if (o.deadRoot) oldType = 'root';
  else if (o.deadBranch) oldType = 'branch';
  else oldType = (await s.nodeInfo(oldNode)).nodeType!;
  if (failover) await tagDead(s, [oldNode]);
  const workerOf = async (n: string) => (await s.nodeInfo(n)).workerName!;
  if (o.all || failover) {
    for (const n of await s.subscribersOf(oldNode)) {
      if (n !== newNode) await changeProvider(s, n, await workerOf(n), newNode);
    }
  }
  if (oldType === 'root') await takeoverRoot(s, oldNode, newNode);
  else {
    if (await s.dependsOn(newNode, oldNode)) {
      await changeProvider(s, newNode, await workerOf(newNode), await s.providerOf(oldNode));
    }
    if (s.alive(oldNode)) await changeProvider(s, oldNode, await workerOf(oldNode), newNode);
  }
  s.log.info(`${newNode} took over from ${oldNode}`);
}

async function takeoverRoot(s: AdminSession, oldNode: string, newNode: string) {
  const q = s.queue;
  const newInfo = await s.nodeInfo(newNode);
  let oldWorker: string;
  let lastTick: bigint;
  if (s.alive(oldNode)) {
    // Switchover: stop writes on the old root, let the new one copy everything, swap roles.
    const oldInfo = await s.nodeInfo(oldNode);
    oldWorker = oldInfo.workerName!;
    await s.setPaused(oldNode, oldWorker, true);
    await s.nodeCmd(oldNode, 'select * from pgq_node.demote_root($1, 1, $2)', [q, newNode]);
    const r = await s.nodeCmd(oldNode, 'select * from pgq_node.demote_root($1, 2, $2)', [q, newNode]);
    lastTick = toBigInt(r!.last_tick);
    await s.waitForTick(newNode, lastTick);
  } else {
    // Failover: take what the new root has; if another subscriber of the dead root got
    // further, read the missing batches from it first.
    oldWorker = `${oldNode}.gravestone`;
    const db = (await s.nodeDb(newNode))!;
    lastTick = toBigInt(
      (await db.query('select last_tick_id from pgq.get_queue_info($1)', [q])).rows[0].last_tick_id,
    );
    let other: string | null = null;
    for (const n of await s.subscribersOf(oldNode)) {
      const t = (await s.nodeInfo(n)).workerLastTick;
      if (t != null && t > lastTick) {
        lastTick = t;
        other = n;
      }
    }
    if (other) {
      await changeProvider(s, newNode, newInfo.workerName!, other);
      await s.waitForTick(newNode, lastTick);
    }
  }
  await s.setPaused(newNode, newInfo.workerName!, true);
  await s.nodeCmd(newNode, 'select * from pgq_node.promote_branch($1)', [q]);
  await s.nodeCmd(newNode, 'select * from pgq_node.register_subscriber($1, $2, $3, $4)', [
    q,
    oldNode,
    oldWorker,
    lastTick,
  ]);
  if (newInfo.providerNode && s.alive(newInfo.providerNode)) {
    await s.nodeCmd(newInfo.providerNode, 'select * from pgq_node.unregister_subscriber($1, $2)', [
      q,
      newNode,
    ]);
  }
  await s.setPaused(newNode, newInfo.workerName!, false);
  if (s.alive(oldNode)) {
    await s.nodeCmd(oldNode, 'select * from pgq_node.demote_root($1, 3, $2)', [q, newNode]);
    await s.setPaused(oldNode, oldWorker, false);
  }
}
