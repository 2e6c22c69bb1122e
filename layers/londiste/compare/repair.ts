// `repair [tables…] [--apply] [--repair-where COND] [--output FILE]`: per table, both sides at one
// tick (sync.ts) streamed with `COPY (select … order by key) TO STDOUT` and merged as they arrive
// (merge.ts) into the INSERT / UPDATE / DELETE statements that make the subscriber equal to the
// provider. No temporary files, no external sort: PostgreSQL sorts (by the key index for
// integer keys), the merge holds a chunk per side. The statements go to a file or stdout, or with
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
import { CopyLines } from './copy-text.ts';
import { mergeCopies, type RowDiff } from './merge.ts';
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

/** The statement for one difference; `cols` and `keyCols` quoted already. */
export function diffStatement(
  table: string,
  cols: readonly string[],
  keyCols: readonly string[],
  d: RowDiff,
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

function copySql(table: string, t: TablePlan, where: string): string {
  return (
    `copy (select ${columnList(t.columns)} from only ${quoteFqname(table)}` +
    `${where ? ` where ${where}` : ''} order by ${mergeOrder(t.key)}) to stdout`
  );
}

async function repairOne(
  t: TablePlan,
  where: string,
  provider: pg.ClientBase,
  subscriber: pg.ClientBase,
  sink: Sink,
  log: Logger,
): Promise<Omit<TableRepair, 'applied'>> {
  const started = Date.now();
  const cond = andWhere(t.condition, where);
  const p = new CopyLines(provider.query(copyTo(copySql(t.providerTable, t, cond))));
  const s = new CopyLines(subscriber.query(copyTo(copySql(t.subscriberTable, t, cond))));
  const dest = quoteFqname(t.subscriberTable);
  const cols = t.columns.map(quoteIdent);
  const keyCols = t.key.map((k) => quoteIdent(k.name));
  const keyIdx = t.key.map((k) => t.columns.indexOf(k.name));
  let lastLog = Date.now();
  const stats = await mergeCopies(p, s, t.key, keyIdx, async (d) => {
    await sink.add(diffStatement(dest, cols, keyCols, d));
    if (Date.now() - lastLog > 5000) {
      log.info(`${t.table}: ${p.rows} provider rows merged`);
      lastLog = Date.now();
    }
  });
  log.info(
    `${t.table}: ${stats.inserts} insert(s), ${stats.updates} update(s), ${stats.deletes} delete(s) ` +
      `in ${Date.now() - started} ms`,
  );
  return { table: t.table, ...stats };
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
      const r = await repairOne(t, o.where ?? '', snaps.provider[0]!, snaps.subscriber[0]!, sink, log);
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
