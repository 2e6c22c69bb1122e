// `repair [tables…] [--apply] [--repair-where COND] [--output FILE]`: per table, both sides at one
// tick (sync.ts) streamed with `COPY (select key, row hash … order by key) TO STDOUT` and merged as
// they arrive (merge.ts); the keys that differ are collected in batches of 500 and their full rows
// fetched by key on a second connection of each side (same snapshot), giving the INSERT / UPDATE /
// DELETE statements that make the subscriber equal to the provider. Streaming only key and hash
// (checksum.ts rowHashSql) instead of every column's text makes the merge ~the cost of compare.
// No temporary files, no external sort: PostgreSQL sorts (by the key index for integer keys), the
// merge holds a chunk per side and a batch of keys. The statements go to a file or stdout, or with
// `--apply` into one transaction on the subscriber with session_replication_role = replica,
// while the worker is held at the tick (its row lock, sync.ts) so no replayed change lands between.
// --repair-where restricts both sides (e.g. the ranges compare named).
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { AdminSession } from '../../cascade/admin-session.ts';
import { quoteFqname, quoteIdent } from '../../db/index.ts';
import type { Logger } from '../../util/log.ts';
import { LondisteError } from '../errors.ts';
import { rowHashSql } from './checksum.ts';
import { CopyLines, decodeField } from './copy-text.ts';
import { mergeCopies } from './merge.ts';
import { planTables, type TablePlan } from './plan.ts';
import { andWhere, columnList, mergeOrder, quoteLiteral } from './sql-text.ts';
import { SESSION_SETTINGS, syncSnapshots } from './sync.ts';

/** The value forms the statements use, for psql to read them back alike. */
const FILE_SETTINGS = SESSION_SETTINGS.replaceAll('set local ', 'set ') + ';';

export interface RepairOptions {
  s: AdminSession;
  localLocation: string;
  tables: readonly string[];
  apply?: boolean;
  /** Extra condition on both sides (e.g. compare's differing key ranges). */
  where?: string;
  /** File for the statements (without it and without apply: `write`). */
  output?: string;
  write?: (text: string) => void;
  force?: boolean;
  timeoutMs?: number;
  lockTimeoutMs?: number;
  log: Logger;
}

export interface TableRepair {
  table: string;
  inserts: number;
  updates: number;
  deletes: number;
  providerRows: number;
  subscriberRows: number;
  applied: boolean;
}

export interface RepairResult {
  tick: bigint | null;
  tables: TableRepair[];
  skipped: { table: string; reason: string }[];
  /** Statements produced over all tables. */
  differences: number;
}

/** One fix, values decoded (null = NULL). */
export type Fix =
  | { op: 'insert'; row: (string | null)[] }
  | { op: 'delete'; key: (string | null)[] }
  /** `set`: column index → the provider's value. */
  | { op: 'update'; key: (string | null)[]; set: Map<number, string | null> };

/** The statement for one fix; `cols` and `keyCols` quoted already. */
export function diffStatement(
  table: string,
  cols: readonly string[],
  keyCols: readonly string[],
  d: Fix,
): string {
  const keyCond = (key: readonly (string | null)[]) =>
    keyCols.map((k, i) => `${k} = ${quoteLiteral(key[i] ?? null)}`).join(' and ');
  switch (d.op) {
    case 'insert':
      return `insert into ${table} (${cols.join(', ')}) values (${d.row.map(quoteLiteral).join(', ')});`;
    case 'delete':
      return `delete from only ${table} where ${keyCond(d.key)};`;
    case 'update': {
      const set = [...d.set].map(([i, v]) => `${cols[i]} = ${quoteLiteral(v)}`).join(', ');
      return `update only ${table} set ${set} where ${keyCond(d.key)};`;
    }
  }
}

/** Where statements go: a file / stdout, or the apply transaction in batches. */
interface Sink {
  add(stmt: string): Promise<void>;
  end(): Promise<void>;
}

const APPLY_BATCH_BYTES = 256 * 1024;

function applySink(db: pg.ClientBase): Sink {
  let buf: string[] = [];
  let bytes = 0;
  const flush = async () => {
    if (!buf.length) return;
    const text = buf.join('\n');
    buf = [];
    bytes = 0;
    await db.query(text);
  };
  return {
    async add(stmt) {
      buf.push(stmt);
      bytes += stmt.length;
      if (bytes >= APPLY_BATCH_BYTES) await flush();
    },
    end: flush,
  };
}

function textSink(write: (s: string) => Promise<void> | void): Sink {
  let buf: string[] = [];
  let bytes = 0;
  return {
    async add(stmt) {
      buf.push(stmt);
      bytes += stmt.length;
      if (bytes >= 64 * 1024) {
        const t = `${buf.join('\n')}\n`;
        buf = [];
        bytes = 0;
        await write(t);
      }
    },
    async end() {
      if (buf.length) await write(`${buf.join('\n')}\n`);
      buf = [];
    },
  };
}

async function fileWriter(
  file: string,
): Promise<{ write: (s: string) => Promise<void>; close: () => Promise<void> }> {
  const ws: WriteStream = createWriteStream(file, { flags: 'w' });
  await once(ws, 'open');
  return {
    async write(s) {
      if (!ws.write(s)) await once(ws, 'drain');
    },
    async close() {
      ws.end();
      await once(ws, 'finish');
    },
  };
}

const FETCH_BATCH = 500;

/** Rows of `table` with these keys (raw key fields), by the raw key fields joined. */
async function fetchRows(
  db: pg.ClientBase,
  table: string,
  t: TablePlan,
  keyIdx: readonly number[],
  keys: readonly string[][],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (keys.length === 0) return out;
  const kc = t.key.map((k) => quoteIdent(k.name));
  const lits = keys.map((k) => k.map((f) => quoteLiteral(decodeField(f))));
  // Untyped literals take each key column's type; a row IN list becomes index lookups.
  const cond =
    kc.length === 1
      ? `${kc[0]} in (${lits.map((l) => l[0]).join(', ')})`
      : `(${kc.join(', ')}) in (${lits.map((l) => `(${l.join(', ')})`).join(', ')})`;
  const lines = new CopyLines(
    db.query(
      copyTo(
        `copy (select ${columnList(t.columns)} from only ${quoteFqname(table)} where ${cond}) to stdout`,
      ),
    ),
  );
  for (;;) {
    if (lines.needsFill) await lines.fill();
    const l = lines.current;
    if (l === null) break;
    const f = l.split('\t');
    out.set(keyIdx.map((i) => f[i]).join('\t'), f);
    lines.advance();
  }
  return out;
}

async function repairOne(
  t: TablePlan,
  where: string,
  provider: readonly pg.ClientBase[],
  subscriber: readonly pg.ClientBase[],
  sink: Sink,
  log: Logger,
): Promise<Omit<TableRepair, 'applied'>> {
  const started = Date.now();
  const cond = andWhere(t.condition, where);
  const nk = t.key.length;
  const keyList = t.key.map((k) => quoteIdent(k.name)).join(', ');
  const mergeSql = (table: string) =>
    `copy (select ${keyList}, (${rowHashSql(t.columns, t.types)})::text from only ${quoteFqname(table)}` +
    `${cond ? ` where ${cond}` : ''} order by ${mergeOrder(t.key)}) to stdout`;
  const p = new CopyLines(provider[0]!.query(copyTo(mergeSql(t.providerTable))));
  const s = new CopyLines(subscriber[0]!.query(copyTo(mergeSql(t.subscriberTable))));
  const dest = quoteFqname(t.subscriberTable);
  const cols = t.columns.map(quoteIdent);
  const keyCols = t.key.map((k) => quoteIdent(k.name));
  const rowKeyIdx = t.key.map((k) => t.columns.indexOf(k.name));
  const counts = { inserts: 0, updates: 0, deletes: 0 };
  let inserts: string[][] = [];
  let updates: string[][] = [];
  const resolve = async () => {
    const ins = inserts;
    const upd = updates;
    inserts = [];
    updates = [];
    const [prov, sub] = await Promise.all([
      fetchRows(provider[1]!, t.providerTable, t, rowKeyIdx, [...ins, ...upd]),
      fetchRows(subscriber[1]!, t.subscriberTable, t, rowKeyIdx, upd),
    ]);
    for (const k of upd) {
      const pr = prov.get(k.join('\t'));
      const sr = sub.get(k.join('\t'));
      if (!pr || !sr)
        throw new LondisteError('state', `${t.table}: row ${k.join(', ')} vanished within the snapshot`);
      const set = new Map<number, string | null>();
      for (let i = 0; i < pr.length; i++) if (pr[i] !== sr[i]) set.set(i, decodeField(pr[i]!));
      if (set.size === 0) continue;
      counts.updates++;
      await sink.add(diffStatement(dest, cols, keyCols, { op: 'update', key: k.map(decodeField), set }));
    }
    for (const k of ins) {
      const pr = prov.get(k.join('\t'));
      if (!pr)
        throw new LondisteError('state', `${t.table}: row ${k.join(', ')} vanished within the snapshot`);
      counts.inserts++;
      await sink.add(diffStatement(dest, cols, keyCols, { op: 'insert', row: pr.map(decodeField) }));
    }
  };
  let lastLog = Date.now();
  const stats = await mergeCopies(
    p,
    s,
    t.key,
    t.key.map((_, i) => i),
    async (d) => {
      if (d.op === 'delete') {
        counts.deletes++;
        await sink.add(
          diffStatement(dest, cols, keyCols, { op: 'delete', key: d.s.slice(0, nk).map(decodeField) }),
        );
      } else if (d.op === 'insert') inserts.push(d.p.slice(0, nk));
      else updates.push(d.p.slice(0, nk));
      if (inserts.length + updates.length >= FETCH_BATCH) await resolve();
      if (Date.now() - lastLog > 5000) {
        log.info(`${t.table}: ${p.rows} provider rows merged`);
        lastLog = Date.now();
      }
    },
  );
  await resolve();
  log.info(
    `${t.table}: ${counts.inserts} insert(s), ${counts.updates} update(s), ${counts.deletes} delete(s) ` +
      `in ${Date.now() - started} ms`,
  );
  return {
    table: t.table,
    ...counts,
    providerRows: stats.providerRows,
    subscriberRows: stats.subscriberRows,
  };
}

export async function repairTables(o: RepairOptions): Promise<RepairResult> {
  const log = o.log;
  const plan = await planTables({
    s: o.s,
    localLocation: o.localLocation,
    tables: o.tables,
    log,
    applicationName: 'skytools londiste repair',
  });
  const tables = plan.tables.filter((t) => {
    if (t.key.length) return true;
    log.warn(`${t.table}: no primary key on both sides, cannot repair`);
    plan.skipped.push({ table: t.table, reason: 'no primary key' });
    return false;
  });
  if (tables.length === 0) return { tick: null, tables: [], skipped: plan.skipped, differences: 0 };
  const snaps = await syncSnapshots({
    queue: o.s.queue,
    providerType: plan.provider.nodeType ?? '',
    providerWorker: plan.provider.workerName,
    subscriberWorker: plan.subscriberWorker,
    connectProvider: plan.connectProvider,
    connectSubscriber: plan.connectSubscriber,
    holdWorker: !!o.apply,
    // one connection per side streams key + hash, the other fetches the rows that differ
    parallel: 2,
    timeoutMs: o.force ? 0 : (o.timeoutMs ?? 60_000),
    lockTimeoutMs: o.lockTimeoutMs,
    log,
  });
  const file = o.output && !o.apply ? await fileWriter(o.output) : null;
  try {
    let sink: Sink;
    if (o.apply) {
      const hold = snaps.hold!;
      // The hold connection's transaction keeps the worker at the tick; the fixes join it.
      await hold.query(SESSION_SETTINGS);
      await hold.query("select londiste.set_session_replication_role('replica', true)");
      sink = applySink(hold);
    } else {
      const write = file?.write ?? o.write;
      if (!write) throw new LondisteError('usage', 'repair: no output (--output FILE or --apply)');
      sink = textSink(write);
      // One transaction as --apply runs it: as replica (no triggers, no deny trigger), all or nothing.
      await write(
        `-- skytools londiste repair at tick ${snaps.tick}\nset standard_conforming_strings = on;\n${FILE_SETTINGS}\n` +
          "begin;\nselect londiste.set_session_replication_role('replica', true);\n",
      );
    }
    const out: TableRepair[] = [];
    for (const t of tables) {
      const r = await repairOne(t, o.where ?? '', snaps.provider, snaps.subscriber, sink, log);
      out.push({ ...r, applied: false });
    }
    await sink.end();
    if (!o.apply) await (file?.write ?? o.write)!('commit;\n');
    const differences = out.reduce((a, t) => a + t.inserts + t.updates + t.deletes, 0);
    if (o.apply) {
      await snaps.hold!.query('commit');
      for (const t of out) t.applied = t.inserts + t.updates + t.deletes > 0;
      log.info(`repair applied: ${differences} statement(s)`);
    }
    return { tick: snaps.tick, tables: out, skipped: plan.skipped, differences };
  } finally {
    await file?.close();
    await snaps.release();
  }
}
