// What `status` and `members` show: every member's node info read in parallel and arranged as the
// provider tree with lag per node, and the text renderings of the tree and the member list.
import type pg from 'pg';
import type { AdminSession } from './admin-session.ts';
import { getNodeInfo, type Member, type NodeInfo, type NodeType } from './node.ts';

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
  /** Lines an admin built on the cascade adds per node (Londiste: its tables), shown under it. */
  details?: string[];
}

export interface CascadeStatus {
  localNode: string;
  roots: NodeStatus[];
}

/** Called per reachable node while status is read: may add `details` lines. */
export type NodeStatusHook = (st: NodeStatus, db: pg.Client, info: NodeInfo) => Promise<void>;

/** The members of the local node's map, sorted by name. */
export async function loadMembers(s: AdminSession): Promise<Member[]> {
  await s.loadLocal();
  return [...s.members.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The cascade as a tree (one root normally), with lag per node. */
export async function loadStatus(s: AdminSession, extra?: NodeStatusHook): Promise<CascadeStatus> {
  await s.loadLocal();
  const nodes = new Map<string, NodeStatus>();
  const consumers = new Map<string, Map<string, { tickTime: Date }>>();
  let rootNow: Date | null = null;
  await Promise.all(
    [...s.members.values()].map(async (m) => {
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
        const db = await s.nodeDb(m.name);
        if (!db) return;
        const info = await loadNodeStatus(s, db, st, consumers);
        if (info.nodeType === 'root') rootNow = info.now;
        await extra?.(st, db, info.info);
      } catch (err) {
        st.type = 'unreachable';
        st.note = (err as Error).message.split('\n')[0];
        await s.forget(m.location);
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
  return { localNode: s.localName, roots };
}

/** One node's row of the tree; on roots and branches also what their consumers have seen. */
async function loadNodeStatus(
  s: AdminSession,
  db: pg.Client,
  st: NodeStatus,
  consumers: Map<string, Map<string, { tickTime: Date }>>,
): Promise<{ nodeType: NodeType | null; now: Date | null; info: NodeInfo }> {
  const info = await getNodeInfo(db, s.queue);
  st.type = info.nodeType ?? 'unreachable';
  st.provider = info.providerNode;
  st.worker = info.workerName;
  st.lastTick = info.workerLastTick;
  st.paused = info.paused;
  st.uptodate = info.uptodate;
  let now: Date | null = null;
  const cmap = new Map<string, { tickTime: Date }>();
  if (info.nodeType === 'root' || info.nodeType === 'branch') {
    const cr = await db.query(
      'select consumer_name, current_timestamp - lag as tick_time from pgq.get_consumer_info($1)',
      [s.queue],
    );
    for (const r of cr.rows) cmap.set(r.consumer_name, { tickTime: r.tick_time });
    const qi = (
      await db.query(
        'select extract(epoch from ticker_lag)::float8 as lag, current_timestamp as now from pgq.get_queue_info($1)',
        [s.queue],
      )
    ).rows[0];
    if (info.nodeType === 'root' && qi) {
      st.lagSeconds = qi.lag;
      now = qi.now;
    }
  }
  consumers.set(st.name, cmap);
  const er = await db.query('select consumer_name, cur_error from pgq_node.get_consumer_info($1)', [s.queue]);
  for (const r of er.rows) {
    if (r.cur_error) st.errors.push(`${r.consumer_name}: ${String(r.cur_error).split('\n')[0]}`);
  }
  return { nodeType: info.nodeType, now, info };
}

/** The status tree as text, in the spirit of the original's `status` output. */
export function formatStatus(st: CascadeStatus, queue: string): string {
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
    for (const d of n.details ?? []) lines.push(`${childPrefix}   ${d}`);
    for (const [i, c] of n.children.entries()) walk(c, childPrefix, i === n.children.length - 1, false);
  };
  for (const r of st.roots) walk(r, '', true, true);
  return lines.join('\n');
}

/** `members` as text: one line per node with its dead flag and location. */
export function formatMembers(members: Member[], queue: string): string {
  return [
    `Member info on queue ${queue}:`,
    `${'node_name'.padEnd(20)} ${'dead'.padEnd(5)} node_location`,
    ...members.map((m) => `${m.name.padEnd(20)} ${String(m.dead).padEnd(5)} ${m.location}`),
  ].join('\n');
}

/** The status tree as JSON (ticks as numbers, as tools expect). */
export function statusJson(st: CascadeStatus): string {
  return JSON.stringify(st, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2);
}
