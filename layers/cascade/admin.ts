// Cascade administration — what the original `setadm` (pgq.cascade.admin.CascadeAdmin) does:
// create nodes, show members and the cascade tree, pause/resume workers, change a node's provider,
// switchover and failover (takeover), resurrect an old root, drop nodes, tag nodes dead.
// Every step is a pgq_node function call on the node it concerns; the admin only sequences them
// and waits for the workers to acknowledge (uptodate) where the original waits.
//
// Built to be extended, as Londiste's setup extends the original's: a subclass reaches the nodes
// through `this.session` (connections, node info, admin calls, waits), adds to the new node's
// creation (`extraInit`) and the status tree (`extraStatus`), and declares its commands with
// `static override commands = extendCommands(CascadeAdmin.commands, [...])`.
import type pg from 'pg';
import { CASCADE_COMMANDS, CASCADE_OPTIONS } from './admin-commands.ts';
import { type CreateNodeOptions, createNode, dropNode, tagDead } from './admin-membership.ts';
import { resurrect } from './admin-resurrect.ts';
import { AdminSession, type AdminSessionOptions } from './admin-session.ts';
import { type CascadeStatus, loadMembers, loadStatus, type NodeStatus } from './admin-status.ts';
import { changeProvider, type TakeoverOptions, takeover } from './admin-takeover.ts';
import { CascadeError, type Member, type NodeInfo, type NodeType } from './node.ts';

// What callers imported from here before the split.
export type { CreateNodeOptions } from './admin-membership.ts';
export type { NodeStatus } from './admin-status.ts';
export { formatStatus } from './admin-status.ts';
export type { TakeoverOptions } from './admin-takeover.ts';

export type CascadeAdminOptions = AdminSessionOptions;

export class CascadeAdmin {
  /** The `skytools setadm` commands; a subclass declares its own table built on this one. */
  static readonly commands = CASCADE_COMMANDS;
  static readonly options = CASCADE_OPTIONS;

  readonly queue: string;
  /** Connections to the nodes, the member map, admin calls and waits of this run. */
  protected readonly session: AdminSession;

  constructor(opts: CascadeAdminOptions) {
    this.queue = opts.queue;
    this.session = new AdminSession(opts);
  }

  close(): Promise<void> {
    return this.session.close();
  }

  local(): Promise<pg.Client> {
    return this.session.local();
  }

  /** Loads the local node and the member list; the local node must be initialized. */
  loadLocal(): Promise<NodeInfo> {
    return this.session.loadLocal();
  }

  // ---- hooks for admins built on the cascade -------------------------------------------------

  /** Runs in the new node's creating transaction after pgq_node.create_node (provider: null on a root). */
  protected async extraInit(_type: NodeType, _node: pg.Client, _provider: pg.Client | null): Promise<void> {}

  /** Runs per reachable node while `status` reads the tree; may add `st.details` lines. */
  protected async extraStatus(_st: NodeStatus, _node: pg.Client, _info: NodeInfo): Promise<void> {}

  // ---- commands -------------------------------------------------------------------------------

  createNode(type: NodeType, o: CreateNodeOptions): Promise<string> {
    return createNode(this.session, type, o, (t, n, p) => this.extraInit(t, n, p));
  }

  members(): Promise<Member[]> {
    return loadMembers(this.session);
  }

  /** The cascade as a tree (one root normally), with lag per node. */
  status(): Promise<CascadeStatus> {
    return loadStatus(this.session, (st, db, info) => this.extraStatus(st, db, info));
  }

  async pause(node?: string, consumer?: string): Promise<void> {
    await this.session.loadLocal();
    const [n, c] = await this.session.findConsumer(node, consumer);
    await this.session.setPaused(n, c, true);
  }

  async resume(node?: string, consumer?: string): Promise<void> {
    await this.session.loadLocal();
    const [n, c] = await this.session.findConsumer(node, consumer);
    await this.session.setPaused(n, c, false);
  }

  /** Sets the pause flag and waits until the worker acknowledges it (uptodate). */
  setPaused(node: string, consumer: string, flag: boolean): Promise<void> {
    return this.session.setPaused(node, consumer, flag);
  }

  async changeProvider(newProvider: string, node?: string, consumer?: string): Promise<void> {
    await this.session.loadLocal();
    const [n, c] = await this.session.findConsumer(node, consumer);
    await changeProvider(this.session, n, c, newProvider);
  }

  async takeover(oldNode: string, o: TakeoverOptions = {}): Promise<void> {
    await this.session.loadLocal();
    await takeover(this.session, oldNode, o);
  }

  /**
   * Waits until this node's worker has processed the tick the root (`wait-root`) or this node's
   * provider (`wait-provider`) has now; returns the node waited for and its tick. Bounded by the
   * wait timeout (--timeout).
   */
  async waitFor(target: 'root' | 'provider'): Promise<{ local: string; node: string; tick: bigint }> {
    await this.session.loadLocal();
    let node: string | undefined;
    if (target === 'provider') {
      const info = await this.session.nodeInfo(this.session.localName);
      if (info.nodeType === 'root')
        throw new CascadeError('node_state', 'the root has no provider to wait for');
      node = info.providerNode ?? undefined;
      if (!node) throw new CascadeError('unknown_node', `node ${this.session.localName} has no provider`);
    }
    const tick = await this.session.waitForNode(node);
    return { local: this.session.localName, node: node ?? (await this.session.rootName()) ?? 'root', tick };
  }

  async tagDead(nodes: string[], dead = true): Promise<void> {
    await this.session.loadLocal();
    await tagDead(this.session, nodes, dead);
  }

  async dropNode(name: string): Promise<void> {
    await this.session.loadLocal();
    await dropNode(this.session, name);
  }

  /**
   * Brings an old root (or branch) that was failed over back as a branch of the new root (run on
   * the old node); the worker stays paused. See admin-resurrect.ts.
   */
  async resurrect(
    o: { dumpFile?: string } = {},
  ): Promise<{ failoverTick: bigint; dumped: number; deleted: number }> {
    await this.session.loadLocal();
    return resurrect(this.session, o);
  }
}
