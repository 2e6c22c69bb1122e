// Joining and leaving the cascade: create-root / create-branch / create-leaf (register the
// location on the root, the provider and the node itself, subscribe at the provider's global
// watermark, create the node), tag-dead / tag-alive on every live member, drop-node.
import type pg from 'pg';
import { toBigInt } from '../db/connection.ts';
import { inTransaction } from '../db/transaction.ts';
import type { AdminSession } from './admin-session.ts';
import { CascadeError, getMembers, getNodeInfo, type NodeInfo, type NodeType } from './node.ts';

export interface CreateNodeOptions {
  nodeName: string;
  /** The node's public connect string, as other nodes reach it. */
  location: string;
  worker: string;
  /** Connect string of the provider (branch, leaf). */
  provider?: string;
  syncWatermark?: string;
  /**
   * Leaf: the combined queue on this same database that the leaf's events go on into (a
   * merge-leaf, the original's `create-leaf --merge`): a root or branch node of that queue.
   */
  combinedQueue?: string;
}

/**
 * Runs inside the node's creating transaction, after pgq_node.create_node: what an admin built on
 * the cascade adds to a new node (Londiste: its own node registration). `provider` is null for a
 * root.
 */
export type ExtraInit = (type: NodeType, node: pg.Client, provider: pg.Client | null) => Promise<void>;

/** Registers (or updates) a node's location on one database. */
export function registerLocation(
  s: AdminSession,
  db: pg.Client,
  node: string,
  location: string | null,
  dead = false,
) {
  return s.cmd(db, 'select * from pgq_node.register_location($1, $2, $3, $4)', [
    s.queue,
    node,
    location,
    dead,
  ]);
}

/** Creates the local node; an already initialized node is left alone (the note says so). */
export async function createNode(
  s: AdminSession,
  type: NodeType,
  o: CreateNodeOptions,
  extraInit?: ExtraInit,
): Promise<string> {
  if (!o.nodeName)
    throw new CascadeError('usage', 'node name missing: give it on the command line or as node_name');
  if (!o.location)
    throw new CascadeError(
      'usage',
      'public location missing: give it on the command line or as public_node_location',
    );
  if (!o.worker) throw new CascadeError('usage', 'worker name missing (job_name / --worker)');
  if (o.syncWatermark && type !== 'branch')
    throw new CascadeError('usage', '--sync-watermark is only for branch nodes');
  const db = await s.local();
  const cur = await getNodeInfo(db, s.queue);
  if (cur.nodeType) {
    const note = `node is already initialized as ${cur.nodeType} (${cur.nodeName})`;
    s.log.info(note);
    return note;
  }
  const q = s.queue;
  if (type === 'root') {
    await inTransaction(db, async () => {
      await registerLocation(s, db, o.nodeName, o.location);
      await s.cmd(db, 'select * from pgq_node.create_node($1, $2, $3, $4, null, null, null)', [
        q,
        'root',
        o.nodeName,
        o.worker,
      ]);
      await extraInit?.(type, db, null);
    });
  } else {
    if (!o.provider)
      throw new CascadeError(
        'usage',
        `create-${type} needs --provider=<connect string of the provider node>`,
      );
    const rootDb = await s.rootDb(o.provider);
    const members = await getMembers(rootDb, q);
    if (members.some((m) => m.name === o.nodeName)) {
      throw new CascadeError('node_state', `node ${o.nodeName} already exists in the cascade of ${q}`);
    }
    const providerDb = await s.db(o.provider);
    const pinfo = await getNodeInfo(providerDb, q);
    if (!pinfo.nodeName)
      throw new CascadeError('unknown_node', `provider at ${o.provider} is not a node of ${q}`);
    if (pinfo.nodeType === 'leaf')
      throw new CascadeError(
        'node_state',
        `provider ${pinfo.nodeName} is a leaf; leaves cannot have subscribers`,
      );
    if (!members.some((m) => m.name === pinfo.nodeName))
      throw new CascadeError('unknown_node', `provider node ${pinfo.nodeName} is not a member`);
    await registerLocation(s, rootDb, o.nodeName, o.location);
    if (providerDb !== rootDb) await registerLocation(s, providerDb, o.nodeName, o.location);
    const sub = await s.cmd<{ ret_code: number; ret_note: string; global_watermark: unknown }>(
      providerDb,
      'select * from pgq_node.register_subscriber($1, $2, $3, null)',
      [q, o.nodeName, o.worker],
    );
    await inTransaction(db, async () => {
      await registerLocation(s, db, o.nodeName, o.location);
      for (const m of members) {
        if (m.name !== o.nodeName) await registerLocation(s, db, m.name, m.location, m.dead);
      }
      await s.cmd(db, 'select * from pgq_node.create_node($1, $2, $3, $4, $5, $6, $7)', [
        q,
        type,
        o.nodeName,
        o.worker,
        pinfo.nodeName,
        toBigInt(sub.global_watermark),
        o.combinedQueue ?? null,
      ]);
      if (o.syncWatermark) {
        await s.cmd(db, 'select * from pgq_node.set_node_attrs($1, $2)', [
          q,
          `sync_watermark=${encodeURIComponent(o.syncWatermark)}`,
        ]);
      }
      await extraInit?.(type, db, providerDb);
    });
  }
  const note = `node ${o.nodeName} created as ${type} for queue ${q}`;
  s.log.info(note);
  return note;
}

/** Tags nodes dead (or alive again) on the local node and every other live member. */
export async function tagDead(s: AdminSession, nodes: string[], dead = true): Promise<void> {
  for (const d of nodes) {
    s.log.info(`tagging node ${d} as ${dead ? 'dead' : 'alive'}`);
    await registerLocation(s, await s.local(), d, null, dead);
    for (const n of s.members.keys()) {
      if (n === d || n === s.localName || !s.alive(n)) continue;
      try {
        await s.nodeCmd(n, 'select * from pgq_node.register_location($1, $2, null, $3)', [s.queue, d, dead]);
      } catch (err) {
        s.log.warn('could not tag on node', { node: n, error: (err as Error).message });
      }
    }
    s.markDead(d, dead);
  }
}

/** Removes a node without subscribers from the root, itself and every other live member. */
export async function dropNode(s: AdminSession, name: string): Promise<void> {
  const q = s.queue;
  let info: NodeInfo | null = null;
  if (s.alive(name)) {
    try {
      info = await s.nodeInfo(name);
    } catch (err) {
      s.log.warn('cannot read the node being dropped', { node: name, error: (err as Error).message });
    }
    if (info) {
      const subs = (
        await (await s.nodeDb(name))!.query('select node_name from pgq_node.get_subscriber_info($1)', [q])
      ).rows;
      if (subs.length)
        throw new CascadeError(
          'node_state',
          `node ${name} still has subscribers: ${subs.map((r) => r.node_name).join(', ')}`,
        );
    }
  }
  if (info?.nodeType !== 'root') {
    try {
      const root = await s.rootName();
      if (root && root !== name)
        await s.nodeCmd(root, 'select * from pgq_node.unregister_location($1, $2)', [q, name], [301, 404]);
    } catch (err) {
      s.log.warn('unregister on the root failed', { error: (err as Error).message });
    }
  }
  if (info) await s.nodeCmd(name, 'select * from pgq_node.drop_node($1, $2)', [q, name], [301, 404]);
  for (const n of s.members.keys()) {
    if (n === name || !s.alive(n)) continue;
    try {
      await s.nodeCmd(n, 'select * from pgq_node.drop_node($1, $2)', [q, name], [301, 404]);
    } catch (err) {
      s.log.warn('drop on node failed', { node: n, error: (err as Error).message });
    }
  }
  s.log.info(`node ${name} dropped`);
}
