// What Londiste adds to the cascade's `status` tree per node: the table counts the original shows
// (Tables: ok/in progress/not local), a line per table that is not ok, and for a table in copy the
// progress of its COPY on that node (pg_stat_progress_copy of the copy's session, found by its
// application_name) against the provider's row estimate: rows, bytes, rate and ETA.
import type pg from 'pg';
import type { AdminSession } from '../cascade/admin-session.ts';
import type { NodeStatus } from '../cascade/admin-status.ts';
import type { NodeInfo } from '../cascade/node.ts';
import type { Queryable } from '../db/transaction.ts';
// The copy job names its subscriber session this way (one definition, in copy/pipe.ts).
import { copyApplicationName } from './copy/pipe.ts';
import { getTableList } from './tables.ts';

export interface CopyProgress {
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSecond: number | null;
  /** The provider's row estimate (pg_class.reltuples), null before it was analyzed. */
  estimatedRows: number | null;
  etaSeconds: number | null;
}

export interface TableStatus {
  table: string;
  state: string | null;
  copy?: CopyProgress;
}

export interface LondisteNodeStatus extends NodeStatus {
  tables?: TableStatus[];
}

/** The COPY progress of the given tables' copy sessions on one node. */
export async function copyProgress(
  db: Queryable,
  tables: readonly string[],
): Promise<Map<string, { rows: number; bytes: number; seconds: number }>> {
  const out = new Map<string, { rows: number; bytes: number; seconds: number }>();
  if (!tables.length) return out;
  const byApp = new Map(tables.map((t) => [copyApplicationName(t), t]));
  const r = await db.query(
    `select a.application_name, p.tuples_processed::float8 as rows, p.bytes_processed::float8 as bytes,
            extract(epoch from now() - coalesce(a.xact_start, a.query_start))::float8 as secs
       from pg_catalog.pg_stat_progress_copy p join pg_catalog.pg_stat_activity a on a.pid = p.pid
      where a.application_name = any($1::text[])`,
    [[...byApp.keys()]],
  );
  for (const row of r.rows) {
    const t = byApp.get(row.application_name);
    if (!t) continue;
    // A parallel copy has one session per stream, all with the table's name: their sum.
    const had = out.get(t);
    out.set(t, {
      rows: (had?.rows ?? 0) + row.rows,
      bytes: (had?.bytes ?? 0) + row.bytes,
      seconds: Math.max(had?.seconds ?? 0, row.secs),
    });
  }
  return out;
}

/** The provider's row estimates of tables (reltuples; null when never analyzed). */
export async function rowEstimates(
  db: Queryable,
  tables: readonly string[],
): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  if (!tables.length) return out;
  const r = await db.query(
    `select n.nspname || '.' || c.relname as name, c.reltuples::float8 as est
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname || '.' || c.relname = any($1::text[])`,
    [tables],
  );
  for (const row of r.rows) out.set(row.name, row.est >= 0 ? row.est : null);
  return out;
}

export function formatProgress(p: CopyProgress): string {
  const parts = [
    p.estimatedRows
      ? `${p.rows}/${Math.round(p.estimatedRows)} rows (${Math.min(100, Math.floor((100 * p.rows) / p.estimatedRows))}%)`
      : `${p.rows} rows`,
    `${(p.bytes / 1048576).toFixed(1)} MB`,
  ];
  if (p.rowsPerSecond != null) parts.push(`${Math.round(p.rowsPerSecond)} rows/s`);
  if (p.etaSeconds != null) parts.push(`ETA ${Math.ceil(p.etaSeconds)}s`);
  return parts.join(', ');
}

/** Adds the node's tables to its status row: counts, not-ok tables, copy progress. */
export async function tableStatus(
  s: AdminSession,
  st: NodeStatus,
  node: pg.Client,
  info: NodeInfo,
): Promise<void> {
  let list: Awaited<ReturnType<typeof getTableList>>;
  try {
    list = await getTableList(node, s.queue);
  } catch (err) {
    // A node without the londiste schema is still a reachable cascade node: say so under it.
    st.details = [...(st.details ?? []), `Tables: unknown (${(err as Error).message.split('\n')[0]})`];
    return;
  }
  let ok = 0;
  let half = 0;
  let ignored = 0;
  for (const t of list) {
    if (!t.local) ignored++;
    else if (t.mergeState === 'ok') ok++;
    else half++;
  }
  const local = list.filter((t) => t.local);
  const inCopy = local.filter((t) => t.mergeState === 'in-copy').map((t) => t.tableName);
  const progress = await copyProgress(node, inCopy);
  let estimates = new Map<string, number | null>();
  if (progress.size && info.providerNode && info.providerNode !== info.nodeName) {
    try {
      const prov = await s.nodeDb(info.providerNode);
      if (prov) estimates = await rowEstimates(prov, [...progress.keys()]);
    } catch (err) {
      s.log.debug('no row estimates from the provider', { error: (err as Error).message });
    }
  }
  const tables: TableStatus[] = local.map((t) => {
    const p = progress.get(t.tableName);
    if (!p) return { table: t.tableName, state: t.mergeState };
    const est = estimates.get(t.tableName) ?? null;
    const rate = p.seconds > 0 ? p.rows / p.seconds : null;
    return {
      table: t.tableName,
      state: t.mergeState,
      copy: {
        ...p,
        rowsPerSecond: rate,
        estimatedRows: est,
        etaSeconds: est != null && rate ? Math.max(0, est - p.rows) / rate : null,
      },
    };
  });
  (st as LondisteNodeStatus).tables = tables;
  const details = [`Tables: ${ok}/${half}/${ignored}`];
  for (const t of tables) {
    if (t.state === 'ok') continue;
    details.push(
      `  ${t.table}: ${t.state ?? 'waiting for copy'}${t.copy ? ` ${formatProgress(t.copy)}` : ''}`,
    );
  }
  st.details = [...(st.details ?? []), ...details];
}
