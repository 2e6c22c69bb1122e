// Cascade administration — what the original `setadm` (pgq.cascade.admin.CascadeAdmin) does:
// create nodes, show members and the cascade tree, pause/resume workers, change a node's provider,
// switchover and failover (takeover), resurrect an old root, drop nodes, tag nodes dead.
// Every step is a pgq_node function call on the node it concerns; the admin only sequences them
// and waits for the workers to acknowledge (uptodate) where the original waits.
import { writeFileSync } from 'node:fs';
import type pg from 'pg';
import { toBigInt } from '../db/connection.ts';
import { quoteIdent } from '../db/ident.ts';
import { inTransaction } from '../db/transaction.ts';
import { type Logger, silentLogger } from '../util/log.ts';
import { sleep } from '../util/sleep.ts';
import {
  CascadeError,
  connectLocation,
  getMembers,
  getNodeInfo,
  type Member,
  type NodeInfo,
  type NodeType,
  nodeCmd,
} from './node.ts';

export interface CascadeAdminOptions {
  queue: string;
  /** Connect string of the node this admin runs for (the .ini's `db`). */
  localLocation: string;
  connect?: (location: string) => Promise<pg.Client>;
  /** Nodes to treat as dead for this command, without asking them (--dead). */
  assumeDead?: string[];
  log?: Logger;
  /** Upper bound for waiting on workers (pause acknowledged, catch-up); default 10 minutes. */
  waitTimeoutMs?: number;
  pollMs?: number;
}

export interface CreateNodeOptions {
  nodeName: string;
  /** The node's public connect string, as other nodes reach it. */
  location: string;
  worker: string;
  /** Connect string of the provider (branch, leaf). */
  provider?: string;
  syncWatermark?: string;
}

export interface NodeStatus {
  name: string;
  type: NodeType | 'dead' | 'unreachable';
  location: string | null;
  provider: string | null;
  worker: string | null;
  lastTick: bigint | null;
  paused: boolean;
  uptodate: boolean;
  /** Seconds behind the root (from the provider's view of this node's worker); root: ticker lag. */
  lagSeconds: number | null;
  errors: string[];
  children: NodeStatus[];
  note?: string;
}

export interface TakeoverOptions {
  /** The node taking over (default: the local node). */
  newNode?: string;
  /** Failover: the old node is a dead root / dead branch, do not contact it. */
  deadRoot?: boolean;
  deadBranch?: boolean;
  /** Move all subscribers of the old node to the new one as well. */
  all?: boolean;
}

export class CascadeAdmin {
  readonly queue: string;
  #opts: CascadeAdminOptions;
  #log: Logger;
  #conns = new Map<string, pg.Client>();
  #members = new Map<string, Member>();
  #localName: string | null = null;
  #dead = new Set<string>();

  constructor(opts: CascadeAdminOptions) {
    this.#opts = opts;
    this.queue = opts.queue;
    this.#log = (opts.log ?? silentLogger).child({ queue: opts.queue });
    for (const n of opts.assumeDead ?? []) this.#dead.add(n);
  }

  async close(): Promise<void> {
    const all = [...this.#conns.values()];
    this.#conns.clear();
    await Promise.all(all.map((c) => c.end().catch(() => {})));
  }

  // ---- connections -------------------------------------------------------------------------

  async #db(location: string): Promise<pg.Client> {
    let c = this.#conns.get(location);
    if (!c) {
      c = await (
        this.#opts.connect ?? ((l: string) => connectLocation(l, { applicationName: 'skytools setadm' }))
      )(location);
      this.#conns.set(location, c);
    }
    return c;
  }

  async #forget(location: string) {
    const c = this.#conns.get(location);
    this.#conns.delete(location);
    await c?.end().catch(() => {});
  }

  local(): Promise<pg.Client> {
    return this.#db(this.#opts.localLocation);
  }

  /** Loads the local node and the member list; the local node must be initialized. */
  async loadLocal(): Promise<NodeInfo> {
    const db = await this.local();
    const info = await getNodeInfo(db, this.queue);
    if (!info.nodeType || !info.nodeName) {
      throw new CascadeError(
        'unknown_node',
        `queue ${this.queue}: this database is not a node yet (run create-root/branch/leaf)`,
      );
    }
    this.#localName = info.nodeName;
    this.#members.clear();
    for (const m of await getMembers(db, this.queue)) {
      this.#members.set(m.name, { ...m, dead: m.dead || this.#dead.has(m.name) });
    }
    for (const n of this.#dead) {
      if (!this.#members.has(n)) this.#members.set(n, { name: n, location: '', dead: true });
    }
    return info;
  }

  #alive(name: string): boolean {
    const m = this.#members.get(name);
    return !!m && !m.dead;
  }

  /** The node's connection, or null for a dead node. */
  async #nodeDb(name: string): Promise<pg.Client | null> {
    if (name === this.#localName) return this.local();
    const m = this.#members.get(name);
    if (!m) throw new CascadeError('unknown_node', `queue ${this.queue}: unknown node ${name}`);
    if (m.dead) return null;
    return this.#db(m.location);
  }

  async #nodeCmd(name: string, sql: string, params: unknown[], allow: number[] = []) {
    const db = await this.#nodeDb(name);
    if (!db) {
      this.#log.warn('ignoring command for dead node', { node: name, sql });
      return null;
    }
    return nodeCmd(db, sql, params, allow);
  }

  async #nodeInfo(name: string): Promise<NodeInfo> {
    const db = await this.#nodeDb(name);
    if (!db) throw new CascadeError('node_state', `node ${name} is dead`);
    const info = await getNodeInfo(db, this.queue);
    if (!info.nodeType)
      throw new CascadeError('unknown_node', `node ${name} is not initialized for queue ${this.queue}`);
    return info;
  }

  // ---- create -----------------------------------------------------------------------------

  async createNode(type: NodeType, o: CreateNodeOptions): Promise<string> {
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
    const db = await this.local();
    const cur = await getNodeInfo(db, this.queue);
    if (cur.nodeType) {
      const note = `node is already initialized as ${cur.nodeType} (${cur.nodeName})`;
      this.#log.info(note);
      return note;
    }
    const q = this.queue;
    if (type === 'root') {
      await inTransaction(db, async () => {
        await nodeCmd(db, 'select * from pgq_node.register_location($1, $2, $3, false)', [
          q,
          o.nodeName,
          o.location,
        ]);
        await nodeCmd(db, 'select * from pgq_node.create_node($1, $2, $3, $4, null, null, null)', [
          q,
          'root',
          o.nodeName,
          o.worker,
        ]);
      });
    } else {
      if (!o.provider)
        throw new CascadeError(
          'usage',
          `create-${type} needs --provider=<connect string of the provider node>`,
        );
      const rootDb = await this.#findRoot(o.provider);
      const members = await getMembers(rootDb, q);
      if (members.some((m) => m.name === o.nodeName)) {
        throw new CascadeError('node_state', `node ${o.nodeName} already exists in the cascade of ${q}`);
      }
      const providerDb = await this.#db(o.provider);
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
      await nodeCmd(rootDb, 'select * from pgq_node.register_location($1, $2, $3, false)', [
        q,
        o.nodeName,
        o.location,
      ]);
      if (providerDb !== rootDb) {
        await nodeCmd(providerDb, 'select * from pgq_node.register_location($1, $2, $3, false)', [
          q,
          o.nodeName,
          o.location,
        ]);
      }
      const sub = await nodeCmd<{ ret_code: number; ret_note: string; global_watermark: unknown }>(
        providerDb,
        'select * from pgq_node.register_subscriber($1, $2, $3, null)',
        [q, o.nodeName, o.worker],
      );
      await inTransaction(db, async () => {
        await nodeCmd(db, 'select * from pgq_node.register_location($1, $2, $3, false)', [
          q,
          o.nodeName,
          o.location,
        ]);
        for (const m of members) {
          if (m.name === o.nodeName) continue;
          await nodeCmd(db, 'select * from pgq_node.register_location($1, $2, $3, $4)', [
            q,
            m.name,
            m.location,
            m.dead,
          ]);
        }
        await nodeCmd(db, 'select * from pgq_node.create_node($1, $2, $3, $4, $5, $6, null)', [
          q,
          type,
          o.nodeName,
          o.worker,
          pinfo.nodeName,
          toBigInt(sub.global_watermark),
        ]);
        if (o.syncWatermark) {
          await nodeCmd(db, 'select * from pgq_node.set_node_attrs($1, $2)', [
            q,
            `sync_watermark=${encodeURIComponent(o.syncWatermark)}`,
          ]);
        }
      });
    }
    const note = `node ${o.nodeName} created as ${type} for queue ${q}`;
    this.#log.info(note);
    return note;
  }

  /** Walks up the provider chain from a location to the root's connection. */
  async #findRoot(start: string): Promise<pg.Client> {
    let loc = start;
    const seen = new Set<string>();
    for (;;) {
      const db = await this.#db(loc);
      const info = await getNodeInfo(db, this.queue);
      if (!info.nodeType)
        throw new CascadeError('unknown_node', `node at ${loc} is not initialized for queue ${this.queue}`);
      if (info.nodeType === 'root') return db;
      seen.add(loc);
      if (!info.providerLocation)
        throw new CascadeError('unknown_node', `node ${info.nodeName} has no provider location`);
      if (seen.has(info.providerLocation))
        throw new CascadeError('node_state', `provider loop at ${info.providerLocation}`);
      loc = info.providerLocation;
    }
  }

  // ---- show -------------------------------------------------------------------------------

  async members(): Promise<Member[]> {
    await this.loadLocal();
    return [...this.#members.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The cascade as a tree (one root normally), with lag per node. */
  async status(): Promise<{ localNode: string; roots: NodeStatus[] }> {
    await this.loadLocal();
    const nodes = new Map<string, NodeStatus>();
    const consumers = new Map<string, Map<string, { tickTime: Date }>>();
    let rootNow: Date | null = null;
    await Promise.all(
      [...this.#members.values()].map(async (m) => {
        const st: NodeStatus = {
          name: m.name,
          type: 'dead',
          location: m.location || null,
          provider: null,
          worker: null,
          lastTick: null,
          paused: false,
          uptodate: true,
          lagSeconds: null,
          errors: [],
          children: [],
        };
        nodes.set(m.name, st);
        if (m.dead) return;
        try {
          const db = await this.#nodeDb(m.name);
          if (!db) return;
          const info = await getNodeInfo(db, this.queue);
          st.type = info.nodeType ?? 'unreachable';
          st.provider = info.providerNode;
          st.worker = info.workerName;
          st.lastTick = info.workerLastTick;
          st.paused = info.paused;
          st.uptodate = info.uptodate;
          const cmap = new Map<string, { tickTime: Date }>();
          if (info.nodeType === 'root' || info.nodeType === 'branch') {
            const cr = await db.query(
              'select consumer_name, current_timestamp - lag as tick_time from pgq.get_consumer_info($1)',
              [this.queue],
            );
            for (const r of cr.rows) cmap.set(r.consumer_name, { tickTime: r.tick_time });
            const qi = (
              await db.query(
                'select extract(epoch from ticker_lag)::float8 as lag, current_timestamp as now from pgq.get_queue_info($1)',
                [this.queue],
              )
            ).rows[0];
            if (info.nodeType === 'root' && qi) {
              st.lagSeconds = qi.lag;
              rootNow = qi.now;
            }
          }
          consumers.set(m.name, cmap);
          const er = await db.query('select consumer_name, cur_error from pgq_node.get_consumer_info($1)', [
            this.queue,
          ]);
          for (const r of er.rows) {
            if (r.cur_error) st.errors.push(`${r.consumer_name}: ${String(r.cur_error).split('\n')[0]}`);
          }
        } catch (err) {
          st.type = 'unreachable';
          st.note = (err as Error).message.split('\n')[0];
          await this.#forget(m.location);
        }
      }),
    );
    const roots: NodeStatus[] = [];
    for (const st of nodes.values()) {
      const parent =
        st.type !== 'root' && st.provider && st.provider !== st.name ? nodes.get(st.provider) : undefined;
      if (parent) {
        parent.children.push(st);
        const seen = st.worker ? consumers.get(parent.name)?.get(st.worker) : undefined;
        if (seen && rootNow) {
          st.lagSeconds = Math.max(0, ((rootNow as Date).getTime() - seen.tickTime.getTime()) / 1000);
        }
      } else roots.push(st);
    }
    const sortTree = (list: NodeStatus[]) => {
      list.sort((a, b) => a.name.localeCompare(b.name));
      for (const n of list) sortTree(n.children);
    };
    sortTree(roots);
    roots.sort((a, b) => (a.type === 'root' ? -1 : b.type === 'root' ? 1 : 0));
    return { localNode: this.#localName ?? '?', roots };
  }

  // ---- pause / resume / change-provider -----------------------------------------------------

  /** (node, consumer): given node → its worker unless a consumer is given; neither → the local node. */
  async #findConsumer(node?: string, consumer?: string): Promise<[string, string]> {
    if (!node && !consumer) node = this.#localName ?? undefined;
    if (node) {
      if (consumer) return [node, consumer];
      const info = await this.#nodeInfo(node);
      return [node, info.workerName ?? ''];
    }
    for (const name of [this.#localName!, ...this.#members.keys()]) {
      if (!this.#alive(name) && name !== this.#localName) continue;
      const db = await this.#nodeDb(name);
      if (!db) continue;
      const r = await db.query('select 1 from pgq_node.get_consumer_info($1) where consumer_name = $2', [
        this.queue,
        consumer,
      ]);
      if (r.rows.length) return [name, consumer!];
    }
    throw new CascadeError('unknown_node', `consumer ${consumer} not found on any node`);
  }

  async pause(node?: string, consumer?: string): Promise<void> {
    await this.loadLocal();
    const [n, c] = await this.#findConsumer(node, consumer);
    await this.setPaused(n, c, true);
  }

  async resume(node?: string, consumer?: string): Promise<void> {
    await this.loadLocal();
    const [n, c] = await this.#findConsumer(node, consumer);
    await this.setPaused(n, c, false);
  }

  /** Sets the pause flag and waits until the worker acknowledges it (uptodate). */
  async setPaused(node: string, consumer: string, flag: boolean): Promise<void> {
    await this.#nodeCmd(node, 'select * from pgq_node.set_consumer_paused($1, $2, $3)', [
      this.queue,
      consumer,
      flag,
    ]);
    const db = await this.#nodeDb(node);
    if (!db) return;
    await this.#waitFor(
      `worker ${consumer} on ${node} to acknowledge ${flag ? 'pause' : 'resume'}`,
      async () => {
        const s = (
          await db.query('select * from pgq_node.get_consumer_state($1, $2)', [this.queue, consumer])
        ).rows[0];
        if (s.paused !== flag)
          throw new CascadeError(
            'node_state',
            `pause flag of ${consumer} on ${node} changed by someone else`,
          );
        return s.uptodate === true;
      },
    );
    this.#log.info(`consumer ${consumer} on node ${node} ${flag ? 'paused' : 'resumed'}`);
  }

  async #waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + (this.#opts.waitTimeoutMs ?? 600_000);
    for (;;) {
      if (await check()) return;
      if (Date.now() > deadline) {
        throw new CascadeError(
          'timeout',
          `timed out waiting for ${what}; is the worker running? ("skytools setadm <ini> worker")`,
        );
      }
      await sleep(this.#opts.pollMs ?? 250);
    }
  }

  async changeProvider(newProvider: string, node?: string, consumer?: string): Promise<void> {
    await this.loadLocal();
    const [n, c] = await this.#findConsumer(node, consumer);
    await this.#changeProvider(n, c, newProvider);
  }

  async #changeProvider(node: string, consumer: string, newProvider: string): Promise<void> {
    if (!newProvider) throw new CascadeError('usage', 'change-provider needs --provider=<node name>');
    if (node === newProvider) throw new CascadeError('usage', `node ${node} cannot subscribe to itself`);
    const q = this.queue;
    const cinfo = await this.#consumerInfo(node, consumer);
    const old = cinfo.provider_node as string;
    if (old === newProvider) {
      this.#log.info(`consumer ${consumer} at ${node} already reads from ${newProvider}`);
      return;
    }
    await this.setPaused(node, consumer, true);
    const ninfo = await this.#nodeInfo(node);
    const after = await this.#consumerInfo(node, consumer);
    const isWorker = ninfo.workerName === consumer;
    const loc = this.#members.get(node)?.location ?? null;
    await this.#nodeCmd(newProvider, 'select * from pgq_node.register_location($1, $2, $3, false)', [
      q,
      node,
      loc,
    ]);
    if (isWorker) {
      await this.#nodeCmd(newProvider, 'select * from pgq_node.register_subscriber($1, $2, $3, $4)', [
        q,
        node,
        consumer,
        after.last_tick_id,
      ]);
    } else {
      const db = await this.#nodeDb(newProvider);
      await db?.query('select pgq.register_consumer_at($1, $2, $3)', [q, consumer, after.last_tick_id]);
    }
    await this.#nodeCmd(node, 'select * from pgq_node.change_consumer_provider($1, $2, $3)', [
      q,
      consumer,
      newProvider,
    ]);
    await this.setPaused(node, consumer, false);
    try {
      if (isWorker)
        await this.#nodeCmd(old, 'select * from pgq_node.unregister_subscriber($1, $2)', [q, node]);
      else await (await this.#nodeDb(old))?.query('select pgq.unregister_consumer($1, $2)', [q, consumer]);
    } catch (err) {
      this.#log.warn('could not unregister from the old provider', {
        provider: old,
        error: (err as Error).message,
      });
    }
    this.#log.info(`${node}/${consumer}: provider changed from ${old} to ${newProvider}`);
  }

  async #consumerInfo(node: string, consumer: string): Promise<Record<string, unknown>> {
    const db = await this.#nodeDb(node);
    if (!db) throw new CascadeError('node_state', `node ${node} is dead`);
    const r = await db.query('select * from pgq_node.get_consumer_info($1) where consumer_name = $2', [
      this.queue,
      consumer,
    ]);
    if (!r.rows.length)
      throw new CascadeError('unknown_node', `consumer ${consumer} not found on node ${node}`);
    return r.rows[0];
  }

  // ---- takeover (switchover / failover) -----------------------------------------------------

  async takeover(oldNode: string, o: TakeoverOptions = {}): Promise<void> {
    await this.loadLocal();
    const newNode = o.newNode ?? this.#localName!;
    if (!this.#members.has(oldNode)) throw new CascadeError('unknown_node', `unknown node: ${oldNode}`);
    if (oldNode === newNode) throw new CascadeError('usage', `node ${newNode} cannot take over itself`);
    let oldType: NodeType;
    const failover = !!(o.deadRoot || o.deadBranch);
    if (o.deadRoot) oldType = 'root';
    else if (o.deadBranch) oldType = 'branch';
    else oldType = (await this.#nodeInfo(oldNode)).nodeType!;
    if (failover) await this.tagDead([oldNode]);
    if (o.all || failover) {
      for (const n of await this.#subscribersOf(oldNode)) {
        if (n !== newNode) await this.#changeProvider(n, (await this.#nodeInfo(n)).workerName!, newNode);
      }
    }
    if (oldType === 'root') await this.#takeoverRoot(oldNode, newNode);
    else {
      if (await this.#dependsOn(newNode, oldNode)) {
        const p = await this.#providerOf(oldNode);
        await this.#changeProvider(newNode, (await this.#nodeInfo(newNode)).workerName!, p);
      }
      if (this.#alive(oldNode))
        await this.#changeProvider(oldNode, (await this.#nodeInfo(oldNode)).workerName!, newNode);
    }
    this.#log.info(`${newNode} took over from ${oldNode}`);
  }

  async #takeoverRoot(oldNode: string, newNode: string) {
    const q = this.queue;
    const newInfo = await this.#nodeInfo(newNode);
    let oldWorker: string;
    let lastTick: bigint;
    if (this.#alive(oldNode)) {
      // Switchover: stop writes on the old root, let the new one copy everything, swap roles.
      const oldInfo = await this.#nodeInfo(oldNode);
      oldWorker = oldInfo.workerName!;
      await this.setPaused(oldNode, oldWorker, true);
      await this.#nodeCmd(oldNode, 'select * from pgq_node.demote_root($1, 1, $2)', [q, newNode]);
      const r = await this.#nodeCmd(oldNode, 'select * from pgq_node.demote_root($1, 2, $2)', [q, newNode]);
      lastTick = toBigInt(r!.last_tick);
      await this.#waitCatchup(newNode, lastTick);
    } else {
      // Failover: take what the new root has; if another subscriber of the dead root got
      // further, read the missing batches from it first.
      oldWorker = `${oldNode}.gravestone`;
      const db = (await this.#nodeDb(newNode))!;
      lastTick = toBigInt(
        (await db.query('select last_tick_id from pgq.get_queue_info($1)', [q])).rows[0].last_tick_id,
      );
      let other: string | null = null;
      for (const n of await this.#subscribersOf(oldNode)) {
        const t = (await this.#nodeInfo(n)).workerLastTick;
        if (t != null && t > lastTick) {
          lastTick = t;
          other = n;
        }
      }
      if (other) {
        await this.#changeProvider(newNode, newInfo.workerName!, other);
        await this.#waitCatchup(newNode, lastTick);
      }
    }
    await this.setPaused(newNode, newInfo.workerName!, true);
    await this.#nodeCmd(newNode, 'select * from pgq_node.promote_branch($1)', [q]);
    await this.#nodeCmd(newNode, 'select * from pgq_node.register_subscriber($1, $2, $3, $4)', [
      q,
      oldNode,
      oldWorker,
      lastTick,
    ]);
    if (newInfo.providerNode && this.#alive(newInfo.providerNode)) {
      await this.#nodeCmd(newInfo.providerNode, 'select * from pgq_node.unregister_subscriber($1, $2)', [
        q,
        newNode,
      ]);
    }
    await this.setPaused(newNode, newInfo.workerName!, false);
    if (this.#alive(oldNode)) {
      await this.#nodeCmd(oldNode, 'select * from pgq_node.demote_root($1, 3, $2)', [q, newNode]);
      await this.setPaused(oldNode, oldWorker, false);
    }
  }

  async #waitCatchup(node: string, tick: bigint) {
    const info = await this.#nodeInfo(node);
    if (info.paused) await this.setPaused(node, info.workerName!, false);
    await this.#waitFor(`node ${node} to reach tick ${tick}`, async () => {
      const t = (await this.#nodeInfo(node)).workerLastTick;
      return t != null && t >= tick;
    });
  }

  async #subscribersOf(parent: string): Promise<string[]> {
    const out: string[] = [];
    for (const name of this.#members.keys()) {
      if (name === parent || !this.#alive(name)) continue;
      try {
        const info = await this.#nodeInfo(name);
        if (info.providerNode === parent) out.push(name);
      } catch (err) {
        this.#log.warn('cannot read node', { node: name, error: (err as Error).message });
      }
    }
    return out.sort();
  }

  async #dependsOn(sub: string, top: string): Promise<boolean> {
    let cur = sub;
    for (let i = 0; i < 100; i++) {
      if (cur === top) return true;
      const info = await this.#nodeInfo(cur);
      if (info.nodeType === 'root' || !info.providerNode) return false;
      cur = info.providerNode;
    }
    throw new CascadeError('node_state', 'provider chain too long (loop?)');
  }

  async #providerOf(node: string): Promise<string> {
    if (this.#alive(node)) return (await this.#nodeInfo(node)).providerNode ?? '';
    for (const n of this.#members.keys()) {
      if (n === node || !this.#alive(n)) continue;
      const db = await this.#nodeDb(n);
      const r = await db!.query('select node_name from pgq_node.get_subscriber_info($1)', [this.queue]);
      if (r.rows.some((x) => x.node_name === node)) return n;
    }
    for (const n of this.#members.keys()) {
      if (this.#alive(n) && (await this.#nodeInfo(n)).nodeType === 'root') return n;
    }
    throw new CascadeError('unknown_node', `cannot find a provider for ${node}`);
  }

  // ---- tag-dead / drop-node -------------------------------------------------------------------

  async tagDead(nodes: string[], dead = true): Promise<void> {
    await this.loadLocal();
    for (const d of nodes) {
      this.#log.info(`tagging node ${d} as ${dead ? 'dead' : 'alive'}`);
      await nodeCmd(await this.local(), 'select * from pgq_node.register_location($1, $2, null, $3)', [
        this.queue,
        d,
        dead,
      ]);
      for (const n of this.#members.keys()) {
        if (n === d || n === this.#localName || !this.#alive(n)) continue;
        try {
          await this.#nodeCmd(n, 'select * from pgq_node.register_location($1, $2, null, $3)', [
            this.queue,
            d,
            dead,
          ]);
        } catch (err) {
          this.#log.warn('could not tag on node', { node: n, error: (err as Error).message });
        }
      }
      const m = this.#members.get(d);
      if (m) m.dead = dead;
      if (dead) this.#dead.add(d);
      else this.#dead.delete(d);
    }
  }

  async dropNode(name: string): Promise<void> {
    await this.loadLocal();
    const q = this.queue;
    let info: NodeInfo | null = null;
    if (this.#alive(name)) {
      try {
        info = await this.#nodeInfo(name);
      } catch (err) {
        this.#log.warn('cannot read the node being dropped', { node: name, error: (err as Error).message });
      }
      if (info) {
        const subs = (
          await (await this.#nodeDb(name))!.query('select node_name from pgq_node.get_subscriber_info($1)', [
            q,
          ])
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
        const root = await this.#rootName();
        if (root && root !== name)
          await this.#nodeCmd(
            root,
            'select * from pgq_node.unregister_location($1, $2)',
            [q, name],
            [301, 404],
          );
      } catch (err) {
        this.#log.warn('unregister on the root failed', { error: (err as Error).message });
      }
    }
    if (info) await this.#nodeCmd(name, 'select * from pgq_node.drop_node($1, $2)', [q, name], [301, 404]);
    for (const n of this.#members.keys()) {
      if (n === name || !this.#alive(n)) continue;
      try {
        await this.#nodeCmd(n, 'select * from pgq_node.drop_node($1, $2)', [q, name], [301, 404]);
      } catch (err) {
        this.#log.warn('drop on node failed', { node: n, error: (err as Error).message });
      }
    }
    this.#log.info(`node ${name} dropped`);
  }

  async #rootName(): Promise<string | null> {
    for (const n of [this.#localName!, ...this.#members.keys()]) {
      if (!this.#alive(n) && n !== this.#localName) continue;
      try {
        const info = await this.#nodeInfo(n);
        if (info.nodeType === 'root') return n;
      } catch {
        // try the next one
      }
    }
    return null;
  }

  // ---- resurrect ------------------------------------------------------------------------------

  /**
   * Brings an old root (or branch) that was failed over back as a branch of the new root: finds
   * the position the new root kept for it (the `<node>.gravestone` subscriber), demotes and pauses
   * the local node, drops its old subscribers and consumers, writes the events the rest of the
   * cascade never saw to `dumpFile` (JSON) and deletes them, and subscribes the node at that
   * position. The worker stays paused; resume it after looking at the dump.
   */
  async resurrect(
    o: { dumpFile?: string } = {},
  ): Promise<{ failoverTick: bigint; dumped: number; deleted: number }> {
    const local = await this.loadLocal();
    const q = this.queue;
    if (local.nodeType === 'leaf')
      throw new CascadeError('node_state', 'this node is a leaf: nothing to resurrect');
    const me = this.#localName!;
    const db = await this.local();
    const subs = (await db.query('select node_name from pgq_node.get_subscriber_info($1)', [q])).rows.map(
      (r) => r.node_name as string,
    );
    const grave = `${me}.gravestone`;
    let provNode: string | null = null;
    let failoverTick: bigint | null = null;
    let rootNode: string | null = null;
    const done = new Set([me]);
    for (const n of [...subs, ...this.#members.keys()]) {
      if (done.has(n)) continue;
      done.add(n);
      if (!this.#alive(n)) continue;
      try {
        const ndb = (await this.#nodeDb(n))!;
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
        this.#log.warn('cannot check node', { node: n, error: (err as Error).message });
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
    const { dumped, deleted } = await this.#dumpLostEvents(
      db,
      me,
      failoverTick,
      o.dumpFile ?? 'resurrect-lost-events.json',
    );
    await nodeCmd(db, 'select * from pgq_node.set_consumer_completed($1, $2, $3)', [q, worker, failoverTick]);
    const pdb = (await this.#nodeDb(provNode))!;
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
    this.#log.info('resurrection done; worker paused', { failoverTick, dumped, deleted, provider: provNode });
    return { failoverTick, dumped, deleted };
  }

  /** Reads the events after the failover tick into a JSON file and deletes them and their ticks. */
  async #dumpLostEvents(db: pg.Client, me: string, failoverTick: bigint, file: string) {
    const q = this.queue;
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
      this.#log.warn(`${lost.length} events the new root never saw written to ${file}`);
    }
    if (finalTick === failoverTick) return { dumped: lost.length, deleted: 0 };
    let deleted = 0;
    await inTransaction(db, async () => {
      const qi = (
        await db.query(
          'select queue_id, queue_ntables, queue_data_pfx from pgq.queue where queue_name = $1',
          [q],
        )
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
}

/** The status tree as text, in the spirit of the original's `status` output. */
export function formatStatus(st: { localNode: string; roots: NodeStatus[] }, queue: string): string {
  const lines = [`Queue: ${queue}   Local node: ${st.localNode}`, ''];
  const fmtLag = (s: number | null) => {
    if (s == null) return '(n/a)';
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = Math.floor(s % 60);
    return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${sec}s`;
  };
  const walk = (n: NodeStatus, prefix: string, last: boolean, top: boolean) => {
    const head = top ? '' : `${prefix}${last ? '└─ ' : '├─ '}`;
    const title = `${n.name} (${n.type})`;
    const parts = [`Lag: ${fmtLag(n.lagSeconds)}`];
    if (n.lastTick != null) parts.push(`Tick: ${n.lastTick}`);
    if (n.paused) parts.push('PAUSED');
    if (!n.uptodate) parts.push('NOT UPTODATE');
    lines.push(`${(head + title).padEnd(40)} ${parts.join(', ')}`);
    const childPrefix = top ? '' : prefix + (last ? '   ' : '│  ');
    for (const e of n.errors) lines.push(`${childPrefix}   ERR: ${e}`);
    if (n.note) lines.push(`${childPrefix}   ${n.note}`);
    for (const [i, c] of n.children.entries()) walk(c, childPrefix, i === n.children.length - 1, false);
  };
  for (const r of st.roots) walk(r, '', true, true);
  return lines.join('\n');
}
