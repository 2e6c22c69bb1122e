// Thin typed wrappers over the pgq_node functions the worker and the admin call, and how to reach
// a node by its location (the connect string stored in pgq_node.node_location). Everything here
// works on our SQL and on the packaged C extension + pgq_node alike.
import type pg from 'pg';
import { connectClient, toBigInt } from '../db/connection.ts';
import { parseConnstr } from '../db/connstr.ts';
import type { Queryable } from '../db/transaction.ts';
import { CascadeError, type CascadeErrorKind } from '../errors/domains.ts';

// The cascade's error class belongs to the shared error scheme (pgq_node / pgq_coop SQLSTATEs map to it).
export { CascadeError, type CascadeErrorKind };

/** A (ret_code, ret_note) result of a pgq_node admin function. */
export interface RetNote {
  ret_code: number;
  ret_note: string;
}

export type NodeType = 'root' | 'branch' | 'leaf';

export interface NodeInfo {
  queue: string;
  nodeType: NodeType | null;
  nodeName: string | null;
  globalWatermark: bigint | null;
  localWatermark: bigint | null;
  providerNode: string | null;
  providerLocation: string | null;
  combinedQueue: string | null;
  combinedType: string | null;
  workerName: string | null;
  paused: boolean;
  uptodate: boolean;
  workerLastTick: bigint | null;
  nodeAttrs: string | null;
}

export interface ConsumerState {
  nodeType: NodeType;
  nodeName: string;
  completedTick: bigint;
  providerNode: string;
  providerLocation: string | null;
  paused: boolean;
  uptodate: boolean;
  curError: string | null;
}

export interface Member {
  name: string;
  location: string;
  dead: boolean;
}

const big = (v: unknown) => (v == null ? null : toBigInt(v));

export async function getNodeInfo(db: Queryable, queue: string): Promise<NodeInfo> {
  const r = (await db.query('select * from pgq_node.get_node_info($1)', [queue])).rows[0];
  return {
    queue,
    nodeType: r.node_type ?? null,
    nodeName: r.node_name ?? null,
    globalWatermark: big(r.global_watermark),
    localWatermark: big(r.local_watermark),
    providerNode: r.provider_node ?? null,
    providerLocation: r.provider_location ?? null,
    combinedQueue: r.combined_queue ?? null,
    combinedType: r.combined_type ?? null,
    workerName: r.worker_name ?? null,
    paused: r.worker_paused === true,
    uptodate: r.worker_uptodate === true,
    workerLastTick: big(r.worker_last_tick),
    nodeAttrs: r.node_attrs ?? null,
  };
}

export async function getConsumerState(
  db: Queryable,
  queue: string,
  consumer: string,
): Promise<ConsumerState> {
  const r = (await db.query('select * from pgq_node.get_consumer_state($1, $2)', [queue, consumer])).rows[0];
  if (r.ret_code >= 300) {
    throw new CascadeError(
      'refused',
      `${queue}/${consumer}: ${r.ret_note} (is the node created? see "skytools setadm <ini> status")`,
    );
  }
  return {
    nodeType: r.node_type,
    nodeName: r.node_name,
    completedTick: toBigInt(r.completed_tick),
    providerNode: r.provider_node,
    providerLocation: r.provider_location ?? null,
    paused: r.paused === true,
    uptodate: r.uptodate === true,
    curError: r.cur_error ?? null,
  };
}

export async function getMembers(db: Queryable, queue: string): Promise<Member[]> {
  const r = await db.query(
    'select node_name, node_location, dead from pgq_node.get_queue_locations($1) order by node_name',
    [queue],
  );
  return r.rows.map((row) => ({ name: row.node_name, location: row.node_location, dead: row.dead === true }));
}

/**
 * Runs a pgq_node function returning (ret_code, ret_note, …) and throws on codes ≥ 300 unless
 * `allow` lists them. 100/200 are success; the original tools treat ≥ 300 as failure too.
 */
export async function nodeCmd<R extends RetNote = RetNote & Record<string, unknown>>(
  db: Queryable,
  sql: string,
  params: unknown[],
  allow: number[] = [],
): Promise<R> {
  const r = await db.query(sql, params);
  const row = r.rows[0] as R | undefined;
  if (!row) throw new CascadeError('protocol', `${sql}: returned no row`);
  if (row.ret_code >= 300 && !allow.includes(row.ret_code)) {
    throw new CascadeError(
      'refused',
      `${sql.replace(/^select \* from /, '')} [${params.join(', ')}]: ${row.ret_code} ${row.ret_note}`,
    );
  }
  return row;
}

/** Last tick id of a local queue (null when the queue has no ticks or does not exist). */
export async function lastLocalTick(db: Queryable, queue: string): Promise<bigint | null> {
  const r = await db.query(
    `select t.tick_id from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
      where q.queue_name = $1 order by t.tick_queue desc, t.tick_id desc limit 1`,
    [queue],
  );
  return r.rows.length ? toBigInt(r.rows[0].tick_id) : null;
}

export interface ConnectLocationOptions {
  applicationName?: string;
  /** Default 5 s, so a dead node fails fast instead of hanging an admin command. */
  connectTimeoutMs?: number;
}

/** A node location (libpq key=value string or postgres:// URL) → client settings; bad → usage error. */
export function parseLocation(location: string): pg.ClientConfig {
  try {
    return parseConnstr(location);
  } catch (err) {
    throw new CascadeError(
      'usage',
      `bad node location ${JSON.stringify(location)}: ${(err as Error).message}`,
    );
  }
}

/** Opens a connection to a node given its location (libpq key=value string or postgres:// URL). */
export async function connectLocation(
  location: string,
  opts: ConnectLocationOptions = {},
): Promise<pg.Client> {
  const cfg = parseLocation(location);
  try {
    return await connectClient({
      config: { connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000, ...cfg },
      applicationName: opts.applicationName ?? 'skytools cascade',
    });
  } catch (err) {
    throw new CascadeError(
      'unreachable',
      `cannot connect to node at ${redactLocation(location)}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Hides passwords in a location for messages. */
export function redactLocation(location: string): string {
  return location.replace(/(password=)('[^']*'|\S+)/g, '$1***').replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}
