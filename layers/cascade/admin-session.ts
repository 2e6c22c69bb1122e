// What every admin command stands on: connections to the nodes of one cascaded queue (by location,
// by member name, the local node, its provider, the root), the member map read from the local node,
// node info, pgq_node admin calls with the (ret_code, ret_note) check, and bounded waits for
// workers. One session per command run; `close()` ends every connection it opened. The cascade
// admin and the admins built on it (Londiste's) hold one and sequence their steps with it.
import type pg from 'pg';
import { toBigInt } from '../db/connection.ts';
import { type Logger, silentLogger } from '../util/log.ts';
import { sleep } from '../util/sleep.ts';
import {
  CascadeError,
  connectLocation,
  getMembers,
  getNodeInfo,
  type Member,
  type NodeInfo,
  nodeCmd,
  type RetNote,
} from './node.ts';

export interface AdminSessionOptions {
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

export class AdminSession {
  readonly queue: string;
  readonly log: Logger;
  #opts: AdminSessionOptions;
  #conns = new Map<string, pg.Client>();
  /** The member map of the local node, with --dead and tag-dead applied; filled by loadLocal. */
  readonly members = new Map<string, Member>();
  #localName: string | null = null;
  #localInfo: NodeInfo | null = null;
  #dead = new Set<string>();

  constructor(opts: AdminSessionOptions) {
    this.#opts = opts;
    this.queue = opts.queue;
    this.log = (opts.log ?? silentLogger).child({ queue: opts.queue });
    for (const n of opts.assumeDead ?? []) this.#dead.add(n);
  }

  async close(): Promise<void> {
    const all = [...this.#conns.values()];
    this.#conns.clear();
    await Promise.all(all.map((c) => c.end().catch(() => {})));
  }

  // ---- connections -------------------------------------------------------------------------

  /** The (cached) connection to a node by its location. */
  async db(location: string): Promise<pg.Client> {
    let c = this.#conns.get(location);
    if (!c) {
      c = await (
        this.#opts.connect ?? ((l: string) => connectLocation(l, { applicationName: 'skytools setadm' }))
      )(location);
      this.#conns.set(location, c);
    }
    return c;
  }

  /** Drops a cached connection (after it failed), so the next use reconnects. */
  async forget(location: string): Promise<void> {
    const c = this.#conns.get(location);
    this.#conns.delete(location);
    await c?.end().catch(() => {});
  }

  local(): Promise<pg.Client> {
    return this.db(this.#opts.localLocation);
  }

  /** The local node's name; loadLocal must have run. */
  get localName(): string {
    if (!this.#localName) throw new CascadeError('usage', `queue ${this.queue}: local node not loaded`);
    return this.#localName;
  }

  /** The local node's info as loadLocal read it. */
  get localInfo(): NodeInfo {
    if (!this.#localInfo) throw new CascadeError('usage', `queue ${this.queue}: local node not loaded`);
    return this.#localInfo;
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
    this.#localInfo = info;
    this.members.clear();
    for (const m of await getMembers(db, this.queue)) {
      this.members.set(m.name, { ...m, dead: m.dead || this.#dead.has(m.name) });
    }
    for (const n of this.#dead) {
      if (!this.members.has(n)) this.members.set(n, { name: n, location: '', dead: true });
    }
    return info;
  }

  /** Records a node as dead or alive for the rest of this session (tag-dead, failover). */
  markDead(name: string, dead: boolean): void {
    const m = this.members.get(name);
    if (m) m.dead = dead;
    if (dead) this.#dead.add(name);
    else this.#dead.delete(name);
  }

  alive(name: string): boolean {
    const m = this.members.get(name);
    return !!m && !m.dead;
  }

  /** The node's connection, or null for a dead node. */
  async nodeDb(name: string): Promise<pg.Client | null> {
    if (name === this.#localName) return this.local();
    const m = this.members.get(name);
    if (!m) throw new CascadeError('unknown_node', `queue ${this.queue}: unknown node ${name}`);
    if (m.dead) return null;
    return this.db(m.location);
  }

  /** The local node's provider (a branch's or leaf's; the root is its own provider). */
  async providerDb(): Promise<pg.Client> {
    const info = this.localInfo;
    if (info.providerNode && this.members.has(info.providerNode)) {
      const db = await this.nodeDb(info.providerNode);
      if (!db) throw new CascadeError('node_state', `provider ${info.providerNode} is dead`);
      return db;
    }
    if (!info.providerLocation)
      throw new CascadeError('unknown_node', `node ${info.nodeName} has no provider location`);
    return this.db(info.providerLocation);
  }

  /** Walks up the provider chain from a location (default: the local node) to the root's connection. */
  async rootDb(start = this.#opts.localLocation): Promise<pg.Client> {
    let loc = start;
    const seen = new Set<string>();
    for (;;) {
      const db = await this.db(loc);
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

  /** The name of the first reachable node that says it is the root, or null. */
  async rootName(): Promise<string | null> {
    for (const n of [this.localName, ...this.members.keys()]) {
      if (!this.alive(n) && n !== this.#localName) continue;
      try {
        const info = await this.nodeInfo(n);
        if (info.nodeType === 'root') return n;
      } catch {
        // try the next one
      }
    }
    return null;
  }

  // ---- node info and admin calls --------------------------------------------------------------

  /** pgq_node.get_node_info of a member; throws for a dead or uninitialized node. */
  async nodeInfo(name: string): Promise<NodeInfo> {
    const db = await this.nodeDb(name);
    if (!db) throw new CascadeError('node_state', `node ${name} is dead`);
    const info = await getNodeInfo(db, this.queue);
    if (!info.nodeType)
      throw new CascadeError('unknown_node', `node ${name} is not initialized for queue ${this.queue}`);
    return info;
  }

  /** The queue's members as a node stores them (pgq_node.get_queue_locations). */
  async queueLocations(name = this.localName): Promise<Member[]> {
    const db = await this.nodeDb(name);
    if (!db) throw new CascadeError('node_state', `node ${name} is dead`);
    return getMembers(db, this.queue);
  }

  /**
   * Runs an admin function returning (ret_code, ret_note, …) on a connection; ≥ 300 throws unless
   * `allow` lists the code.
   */
  cmd<R extends RetNote = RetNote & Record<string, unknown>>(
    db: pg.Client,
    sql: string,
    params: unknown[],
    allow: number[] = [],
  ): Promise<R> {
    return nodeCmd<R>(db, sql, params, allow);
  }

  /** `cmd` on a member by name; a dead node is skipped with a warning (null), as the original does. */
  async nodeCmd<R extends RetNote = RetNote & Record<string, unknown>>(
    name: string,
    sql: string,
    params: unknown[],
    allow: number[] = [],
  ): Promise<R | null> {
    const db = await this.nodeDb(name);
    if (!db) {
      this.log.warn('ignoring command for dead node', { node: name, sql });
      return null;
    }
    return nodeCmd<R>(db, sql, params, allow);
  }

  /** A cascaded consumer's row of pgq_node.get_consumer_info on a node. */
  async consumerInfo(node: string, consumer: string): Promise<Record<string, unknown>> {
    const db = await this.nodeDb(node);
    if (!db) throw new CascadeError('node_state', `node ${node} is dead`);
    const r = await db.query('select * from pgq_node.get_consumer_info($1) where consumer_name = $2', [
      this.queue,
      consumer,
    ]);
    if (!r.rows.length)
      throw new CascadeError('unknown_node', `consumer ${consumer} not found on node ${node}`);
    return r.rows[0];
  }

  /** (node, consumer): given node → its worker unless a consumer is given; neither → the local node. */
  async findConsumer(node?: string, consumer?: string): Promise<[string, string]> {
    if (!node && !consumer) node = this.#localName ?? undefined;
    if (node) {
      if (consumer) return [node, consumer];
      const info = await this.nodeInfo(node);
      return [node, info.workerName ?? ''];
    }
    for (const name of [this.localName, ...this.members.keys()]) {
      if (!this.alive(name) && name !== this.#localName) continue;
      const db = await this.nodeDb(name);
      if (!db) continue;
      const r = await db.query('select 1 from pgq_node.get_consumer_info($1) where consumer_name = $2', [
        this.queue,
        consumer,
      ]);
      if (r.rows.length) return [name, consumer!];
    }
    throw new CascadeError('unknown_node', `consumer ${consumer} not found on any node`);
  }

  /** Live members whose provider is `parent`, sorted by name. */
  async subscribersOf(parent: string): Promise<string[]> {
    const out: string[] = [];
    for (const name of this.members.keys()) {
      if (name === parent || !this.alive(name)) continue;
      try {
        const info = await this.nodeInfo(name);
        if (info.providerNode === parent) out.push(name);
      } catch (err) {
        this.log.warn('cannot read node', { node: name, error: (err as Error).message });
      }
    }
    return out.sort();
  }

  /** Whether `sub` reads (directly or through others) from `top`. */
  async dependsOn(sub: string, top: string): Promise<boolean> {
    let cur = sub;
    for (let i = 0; i < 100; i++) {
      if (cur === top) return true;
      const info = await this.nodeInfo(cur);
      if (info.nodeType === 'root' || !info.providerNode) return false;
      cur = info.providerNode;
    }
    throw new CascadeError('node_state', 'provider chain too long (loop?)');
  }

  /** A node's provider: its own view when alive, else who lists it as subscriber, else the root. */
  async providerOf(node: string): Promise<string> {
    if (this.alive(node)) return (await this.nodeInfo(node)).providerNode ?? '';
    for (const n of this.members.keys()) {
      if (n === node || !this.alive(n)) continue;
      const db = await this.nodeDb(n);
      const r = await db!.query('select node_name from pgq_node.get_subscriber_info($1)', [this.queue]);
      if (r.rows.some((x) => x.node_name === node)) return n;
    }
    for (const n of this.members.keys()) {
      if (this.alive(n) && (await this.nodeInfo(n)).nodeType === 'root') return n;
    }
    throw new CascadeError('unknown_node', `cannot find a provider for ${node}`);
  }

  // ---- waits --------------------------------------------------------------------------------

  /** Polls `check` until true; bounded by waitTimeoutMs, then fails naming what it waited for. */
  async waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
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

  /** Sets the pause flag and waits until the worker acknowledges it (uptodate). */
  async setPaused(node: string, consumer: string, flag: boolean): Promise<void> {
    await this.nodeCmd(node, 'select * from pgq_node.set_consumer_paused($1, $2, $3)', [
      this.queue,
      consumer,
      flag,
    ]);
    const db = await this.nodeDb(node);
    if (!db) return;
    await this.waitFor(
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
    this.log.info(`consumer ${consumer} on node ${node} ${flag ? 'paused' : 'resumed'}`);
  }

  /** Resumes the node's worker if paused and waits until it has processed `tick`. */
  async waitForTick(node: string, tick: bigint): Promise<void> {
    const info = await this.nodeInfo(node);
    if (info.paused) await this.setPaused(node, info.workerName!, false);
    await this.waitFor(`node ${node} to reach tick ${tick}`, async () => {
      const t = (await this.nodeInfo(node)).workerLastTick;
      return t != null && t >= tick;
    });
  }

  /** The last tick of a root's or branch's local queue (pgq.get_queue_info), null before the first. */
  async lastTick(name: string): Promise<bigint | null> {
    const db = await this.nodeDb(name);
    if (!db) throw new CascadeError('node_state', `node ${name} is dead`);
    const r = await db.query('select last_tick_id from pgq.get_queue_info($1)', [this.queue]);
    return r.rows[0]?.last_tick_id == null ? null : toBigInt(r.rows[0].last_tick_id);
  }

  /**
   * Waits until the local node's worker has processed the last tick `node` (default: the root)
   * has now, and returns that tick — the original's wait-root / wait-provider, e.g. after a
   * Londiste add-table. Unlike the original it compares with the node's queue, not its worker.
   */
  async waitForNode(node?: string): Promise<bigint> {
    const target = node ?? (await this.rootName());
    if (!target) throw new CascadeError('unknown_node', 'cannot find the root node');
    const tick = await this.lastTick(target);
    if (tick == null) throw new CascadeError('node_state', `node ${target} has no tick yet`);
    const me = this.localName;
    await this.waitFor(`node ${me} to reach tick ${tick} of ${target}`, async () => {
      const t = (await this.nodeInfo(me)).workerLastTick;
      return t != null && t >= tick;
    });
    return tick;
  }
}
