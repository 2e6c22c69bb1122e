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
import {
  type BucketQuery,
  bucketRanges,
  bucketSql,
  byteOrderCollation,
  differingBuckets,
  type HashBucketQuery,
  hashBucketSql,
  hashBucketWhere,
  hashWindows,
  keySpan,
  keyWindows,
  rangesFrom,
  readBuckets,
} from './buckets.ts';
import { estimateRows, rowHashSql } from './checksum.ts';
import { CopyLines, decodeField } from './copy-text.ts';
import { mergeCopies, type RowDiff } from './merge.ts';
import { planNodes, planTables, type TablePlan } from './plan.ts';
import { andWhere, columnList, mergeOrder, quoteLiteral } from './sql-text.ts';
import { SESSION_SETTINGS, startSync } from './sync.ts';

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
  /** Connections per side reading key windows at once (compare_parallel, default 2). */
  parallel?: number;
  /** Single-integer-key tables estimated at this many rows or more go by buckets (buckets.ts). */
  bucketRows?: number;
  /** Rows per key window of the bucket pass (default buckets.ts WINDOW_ROWS). */
  windowRows?: number;
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

interface Counts {
  inserts: number;
  updates: number;
  deletes: number;
}

/**
 * Differences → statements in `sink`, in the order a merge finds them: deletes at once, inserts
 * and updates after a fetch of their full rows, FETCH_BATCH keys at a time (`flush` the rest).
 * One per table, across all the ranges merged, so the statements come as from one merge.
 */
function fixer(t: TablePlan, p: pg.ClientBase, s: pg.ClientBase, sink: Sink, counts: Counts) {
  const nk = t.key.length;
  const dest = quoteFqname(t.subscriberTable);
  const cols = t.columns.map(quoteIdent);
  const keyCols = t.key.map((k) => quoteIdent(k.name));
  const rowKeyIdx = t.key.map((k) => t.columns.indexOf(k.name));
  let inserts: string[][] = [];
  let updates: string[][] = [];
  const flush = async () => {
    const ins = inserts;
    const upd = updates;
    inserts = [];
    updates = [];
    const [prov, sub] = await Promise.all([
      fetchRows(p, t.providerTable, t, rowKeyIdx, [...ins, ...upd]),
      fetchRows(s, t.subscriberTable, t, rowKeyIdx, upd),
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
  const add = async (d: RowDiff) => {
    if (d.op === 'delete') {
      counts.deletes++;
      await sink.add(
        diffStatement(dest, cols, keyCols, { op: 'delete', key: d.s.slice(0, nk).map(decodeField) }),
      );
    } else if (d.op === 'insert') inserts.push(d.p.slice(0, nk));
    else updates.push(d.p.slice(0, nk));
    if (inserts.length + updates.length >= FETCH_BATCH) await flush();
  };
  return { add, flush };
}

type Fixer = ReturnType<typeof fixer>;

/** The sorted merge of key + row hash of the rows under `cond` on both sides; rows merged per side. */
async function mergeRange(
  t: TablePlan,
  cond: string,
  p: pg.ClientBase,
  s: pg.ClientBase,
  emit: (d: RowDiff) => Promise<void> | void,
  log: Logger,
  from: (table: string) => string = (table) => `only ${quoteFqname(table)}`,
): Promise<{ providerRows: number; subscriberRows: number }> {
  const keyList = t.key.map((k) => quoteIdent(k.name)).join(', ');
  const mergeSql = (table: string) =>
    `copy (select ${keyList}, (${rowHashSql(t.columns, t.types)})::text from ${from(table)}` +
    `${cond ? ` where ${cond}` : ''} order by ${mergeOrder(t.key)}) to stdout`;
  const pl = new CopyLines(p.query(copyTo(mergeSql(t.providerTable))));
  const sl = new CopyLines(s.query(copyTo(mergeSql(t.subscriberTable))));
  let lastLog = Date.now();
  const stats = await mergeCopies(
    pl,
    sl,
    t.key,
    t.key.map((_, i) => i),
    async (d) => {
      await emit(d);
      if (Date.now() - lastLog > 5000) {
        log.info(`${t.table}: ${pl.rows} provider rows merged`);
        lastLog = Date.now();
      }
    },
  );
  return { providerRows: stats.providerRows, subscriberRows: stats.subscriberRows };
}

/** Tables estimated below this are merged whole (the first pass would cost more than it saves). */
export const DEFAULT_BUCKET_ROWS = 20_000;

/**
 * How a table's bucket pass reads it: its key windows, per window and side the COPY of its
 * buckets, and where the rows of some of its buckets are (for mergeRange).
 */
interface WindowPass {
  windows: number;
  bucketSql(side: 'provider' | 'subscriber', j: number): string;
  /** The rows of these buckets of window j: a FROM (default `only table`) and a condition. */
  rows(j: number, buckets: readonly bigint[]): { from?: (table: string) => string; where: string };
  /** The condition of window j as a whole (with the table's). */
  whole(j: number): string;
}

/** A single integer key: buckets of consecutive key values, their rows by index range scans. */
async function integerPass(
  t: TablePlan,
  cond: string,
  p0: pg.ClientBase,
  s0: pg.ClientBase,
  windowRows: number | undefined,
): Promise<WindowPass | null> {
  const key = t.key[0]!.name;
  const [ps, ss, pe, se] = await Promise.all([
    keySpan(p0, t.providerTable, key, cond),
    keySpan(s0, t.subscriberTable, key, cond),
    estimateRows(p0, t.providerTable),
    estimateRows(s0, t.subscriberTable),
  ]);
  if (!ps && !ss) return null;
  const lo = (a?: bigint, b?: bigint) => (a === undefined ? b! : b === undefined || a < b ? a : b);
  const hi = (a?: bigint, b?: bigint) => (a === undefined ? b! : b === undefined || a > b ? a : b);
  const span = { min: lo(ps?.min, ss?.min), max: hi(ps?.max, ss?.max) };
  const windows = await keyWindows(p0, t.providerTable, key, Math.max(pe, se, 1), span, windowRows);
  const q = (table: string): BucketQuery => ({ table, key, columns: t.columns, types: t.types, where: cond });
  const pq = q(t.providerTable);
  const sq = q(t.subscriberTable);
  return {
    windows: windows.length,
    bucketSql: (side, j) => bucketSql(side === 'provider' ? pq : sq, windows[j]!),
    rows: (j, buckets) => {
      const ranges = bucketRanges(windows[j]!.width, buckets);
      const where = andWhere(cond, windows[j]!.where);
      // The ranges' rows: the condition goes inside, on the table (rangesFrom).
      return { from: (table) => rangesFrom(table, key, ranges, where), where: '' };
    },
    whole: (j) => andWhere(cond, windows[j]!.where),
  };
}

/** Any other key: windows of the first key column, buckets by the key's hash (buckets.ts). */
async function hashPass(
  t: TablePlan,
  cond: string,
  p0: pg.ClientBase,
  s0: pg.ClientBase,
  windowRows: number | undefined,
): Promise<WindowPass> {
  const [pe, se] = await Promise.all([
    estimateRows(p0, t.providerTable),
    estimateRows(s0, t.subscriberTable),
  ]);
  const windows = await hashWindows(p0, t.providerTable, t.key[0]!.name, Math.max(pe, se, 1), windowRows);
  const q = (table: string): HashBucketQuery => ({
    table,
    key: t.key.map((k) => k.name),
    keyTypes: t.key.map((k) => t.types[t.columns.indexOf(k.name)] ?? null),
    columns: t.columns,
    types: t.types,
    where: cond,
  });
  const pq = q(t.providerTable);
  const sq = q(t.subscriberTable);
  return {
    windows: windows.length,
    bucketSql: (side, j) => hashBucketSql(side === 'provider' ? pq : sq, windows[j]!),
    // the same condition text on both sides: the bucket expression names only key columns
    rows: (j, buckets) => ({ where: hashBucketWhere(pq, windows[j]!, buckets) }),
    whole: (j) => andWhere(cond, windows[j]!.where),
  };
}

/**
 * Whether the first key column orders alike on both sides, so that windows on it hold the same
 * keys there (buckets.ts): an integer, or the same type on both sides with no collation or C.
 */
async function windowsOnFirstKey(t: TablePlan, p0: pg.ClientBase, s0: pg.ClientBase): Promise<boolean> {
  const k = t.key[0]!;
  if (k.integer) return true;
  if (!t.types[t.columns.indexOf(k.name)]) return false;
  const [pc, sc] = await Promise.all([
    byteOrderCollation(p0, t.providerTable, k.name),
    byteOrderCollation(s0, t.subscriberTable, k.name),
  ]);
  return pc !== null && sc !== null;
}

/**
 * A table above `bucketRows` whose first key column orders alike on both sides: per key window,
 * the buckets of both sides (buckets.ts), then the merge of the differing buckets' rows only
 * (all of the window's when most of them differ: the filter would only add work). Windows in
 * key order, so the statements come in the order of one merge of the whole table (for a key
 * whose first column's own order is that of the merge: integers, text in C, uuid).
 */
async function repairByBuckets(
  t: TablePlan,
  pass: WindowPass,
  streams: readonly { p: pg.ClientBase; s: pg.ClientBase }[],
  fix: Fixer,
  log: Logger,
): Promise<{ providerRows: number; subscriberRows: number }> {
  // The aggregate of a window in memory (one batch), whatever the server's default work_mem.
  await Promise.all(streams.flatMap((c) => [c.p.query(BUCKET_SETTINGS), c.s.query(BUCKET_SETTINGS)]));
  let providerRows = 0;
  let subscriberRows = 0;
  let merged = 0;
  // Each connection pair takes the next window: its buckets, then the merge of its differing
  // ones, the differences kept until the windows before it are out (statements in key order).
  // At most AHEAD windows' differences wait, so memory stays bounded by the window size.
  const found: Deferred<RowDiff[]>[] = Array.from({ length: pass.windows }, () => deferred());
  let emitted = 0;
  const waiting: (() => void)[] = [];
  const wake = () => {
    for (const w of waiting.splice(0)) w();
  };
  let next = 0;
  let failed = false;
  const ahead = Math.max(2, streams.length * 2);
  const work = async ({ p, s }: { p: pg.ClientBase; s: pg.ClientBase }) => {
    for (let j = next++; j < pass.windows && !failed; j = next++) {
      while (j - emitted >= ahead && !failed) await new Promise<void>((r) => waiting.push(r));
      try {
        const [pb, sb] = await Promise.all([
          readBuckets((sql) => p.query(copyTo(sql)), pass.bucketSql('provider', j)),
          readBuckets((sql) => s.query(copyTo(sql)), pass.bucketSql('subscriber', j)),
        ]);
        providerRows += pb.rows;
        subscriberRows += sb.rows;
        const diff = differingBuckets(pb, sb);
        const diffs: RowDiff[] = [];
        if (diff.length) {
          // Most buckets differ: the window's index range as a whole is the cheaper read.
          const all = diff.length * 2 > Math.max(pb.lines.size, sb.lines.size);
          const { from, where } = all ? { from: undefined, where: pass.whole(j) } : pass.rows(j, diff);
          merged += (await mergeRange(t, where, p, s, (d) => void diffs.push(d), log, from)).providerRows;
        }
        found[j]!.resolve(diffs);
      } catch (err) {
        failed = true;
        found[j]!.reject(err);
        throw err;
      }
    }
  };
  const emit = async () => {
    for (const f of found) {
      for (const d of await f.promise) await fix.add(d);
      emitted++;
      wake();
    }
  };
  const workers = streams.map(work);
  try {
    await Promise.all([emit(), ...workers]);
  } catch (err) {
    failed = true;
    wake();
    await Promise.allSettled(workers);
    throw err;
  }
  log.info(`${t.table}: ${pass.windows} key window(s); ${merged} provider rows merged`);
  return { providerRows, subscriberRows };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  // A window's failure is thrown by its worker; the emitter may never get to await it.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

// A window's aggregate in one in-memory batch whatever the server's default work_mem (~4 MB for
// its ~6k groups), so the planner takes a hash aggregate, not a sort; no JIT start per query.
// Each side's connections are the parallelism: no parallel workers of the server on top.
const BUCKET_SETTINGS =
  "set local work_mem = '64MB'; set local jit = off; set local max_parallel_workers_per_gather = 0";

async function repairOne(
  t: TablePlan,
  where: string,
  provider: readonly pg.ClientBase[],
  subscriber: readonly pg.ClientBase[],
  sink: Sink,
  tuning: { bucketRows: number; windowRows?: number },
  log: Logger,
): Promise<Omit<TableRepair, 'applied'>> {
  const started = Date.now();
  const cond = andWhere(t.condition, where);
  // The last connection of each side fetches the rows that differ; the others stream.
  const n = provider.length - 1;
  const streams = provider.slice(0, n).map((p, i) => ({ p, s: subscriber[i]! }));
  const counts: Counts = { inserts: 0, updates: 0, deletes: 0 };
  const fix = fixer(t, provider[n]!, subscriber[n]!, sink, counts);
  const [p0, s0] = [provider[0]!, subscriber[0]!];
  let pass: WindowPass | null = null;
  if ((await estimateRows(p0, t.providerTable)) >= tuning.bucketRows && (await windowsOnFirstKey(t, p0, s0)))
    pass =
      t.key.length === 1 && t.key[0]!.integer
        ? await integerPass(t, cond, p0, s0, tuning.windowRows)
        : await hashPass(t, cond, p0, s0, tuning.windowRows);
  const stats = pass
    ? await repairByBuckets(t, pass, streams, fix, log)
    : await mergeRange(t, cond, p0, s0, fix.add, log);
  await fix.flush();
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
  const planOpts = {
    s: o.s,
    localLocation: o.localLocation,
    tables: o.tables,
    log,
    applicationName: 'skytools londiste repair',
  };
  const nodes = await planNodes(planOpts);
  // As compare: the tables' setup is read while the sync opens its connections and waits for
  // the tick; with nothing to repair, the sync is called off.
  const sync = startSync({
    queue: o.s.queue,
    providerType: nodes.provider.nodeType ?? '',
    providerWorker: nodes.provider.workerName,
    subscriberWorker: nodes.subscriberWorker,
    connectProvider: nodes.connectProvider,
    connectSubscriber: nodes.connectSubscriber,
    holdWorker: !!o.apply,
    // per side `parallel` connections stream (buckets, merges), one more fetches the rows that differ
    parallel: Math.max(1, o.parallel ?? 2) + 1,
    timeoutMs: o.force ? 0 : (o.timeoutMs ?? 60_000),
    lockTimeoutMs: o.lockTimeoutMs,
    log,
  });
  let plan: Awaited<ReturnType<typeof planTables>>;
  try {
    plan = await planTables(planOpts, nodes);
  } catch (err) {
    await sync.callOff();
    throw err;
  }
  const skipped = plan.skipped;
  const tables = plan.tables.filter((t) => {
    if (t.key.length) return true;
    log.warn(`${t.table}: no primary key on both sides, cannot repair`);
    skipped.push({ table: t.table, reason: 'no primary key' });
    return false;
  });
  if (tables.length === 0) {
    await sync.callOff();
    return { tick: null, tables: [], skipped, differences: 0 };
  }
  const snaps = await sync.snapshots();
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
      const r = await repairOne(
        t,
        o.where ?? '',
        snaps.provider,
        snaps.subscriber,
        sink,
        { bucketRows: o.bucketRows ?? DEFAULT_BUCKET_ROWS, windowRows: o.windowRows },
        log,
      );
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
