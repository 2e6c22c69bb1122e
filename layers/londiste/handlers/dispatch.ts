// `dispatch` and its presets: rows routed into time partitions of the destination (or into the
// destination itself with table_mode=direct), fields skipped or renamed, updates kept as new rows
// or as delete + insert, loaded with statements or in bulk — the original's dispatch.py.
//
// Per event (logutriga or jsontriga rows; SQL events are refused): ignored unless its op is in
// event_types; fields filtered (skip_fields, then the fields map); with table_mode=part the
// partition named by part_name (default `<parent>_<yyyy>[_<mm>[_<dd>[_<hh>]]]` by period) for
// the time part_mode picks — the batch's tick time, the event's time, the part_field value or
// now, read in the session's time zone —, created on first use in the batch's transaction:
// pre_part, then part_template or the partition function (part_func, default
// londiste.create_partition: an inheritance child `like` the parent with a check constraint on
// part_field; public.create_partition when only that exists; else `create table … (like parent
// including all)`), then post_part; with retention_period, londiste.drop_obsolete_partitions
// after a partition is created, and with ignore_old_events=1 events for obsolete partitions are
// dropped. row_mode keep_latest turns an update into delete + insert, keep_all into an insert
// (deletes dropped). load_mode direct writes through the shared set-based apply (keep_all: plain
// INSERTs, so tables without a key keep every version); load_mode bulk through the temp-table
// loader with `method` (temp-load.ts).
//
// Differences from the original: its installed dispatch cannot be built at all (it inherits the
// shard handler's required hash_key but refuses that argument), so this follows what its code
// means: no sharding. The direct loader's insert of an existing key updates the row (the
// original stops on the unique violation), as the default handler. A partition created in a
// batch that is rolled back is looked up again on the retry.
import type pg from 'pg';
import { quoteFqname, quoteIdent } from '../../db/ident.ts';
import type { PgqEvent } from '../../pgq/consumer.ts';
import { asApplyError } from '../apply/errors.ts';
import { readShape } from '../apply/shape.ts';
import { LondisteError } from '../errors.ts';
import type { ChangeOp, Row, RowChange } from '../events.ts';
import {
  type ApplyContext,
  BaseHandler,
  type CopyContext,
  type CopyStats,
  type HandlerArgs,
  type HandlerSpec,
} from '../handler.ts';
import { copyRows } from './copy-rows.ts';
import {
  DISPATCH_ARGS,
  type DispatchConf,
  dispatchPresets,
  PART_FUNC_NEW,
  PART_FUNC_OLD,
  type Period,
  parseDispatchConf,
  pyFormat,
} from './dispatch-conf.ts';
import { fullRow } from './rows.ts';
import { TempLoader } from './temp-load.ts';
import { truncateDest } from './truncate.ts';

export const dispatchHandlerSpec: HandlerSpec = {
  name: 'dispatch',
  summary:
    'Partitioned loader. Splits events into partitions, if requested. Then applies them without further processing.',
  args: DISPATCH_ARGS,
  create: (tableName, args, destTable) =>
    new DispatchHandler(dispatchHandlerSpec, tableName, args, destTable),
};

function presetSpec(name: string, defaults: Readonly<Record<string, string>>): HandlerSpec {
  const spec: HandlerSpec = {
    name,
    summary: `Custom dispatch handler with default args: ${Object.entries(defaults)
      .map(([k, v]) => `${k} = ${v}`)
      .join(', ')}.`,
    args: DISPATCH_ARGS,
    // The table's own arguments win over the preset's.
    create: (tableName, args, destTable) =>
      new DispatchHandler(spec, tableName, { ...defaults, ...args }, destTable),
  };
  return spec;
}

export const dispatchHandlerSpecs: HandlerSpec[] = [
  dispatchHandlerSpec,
  ...dispatchPresets().map((p) => presetSpec(p.name, p.defaults)),
];

const PERIOD_PARTS = ['year', 'month', 'day', 'hour'] as const;

interface TimeParts {
  year: string;
  month: string;
  day: string;
  hour: string;
  /** `YYYY-MM-DD HH:MI:SS`, in the session's time zone (what part_time is in templates). */
  text: string;
}

export class DispatchHandler extends BaseHandler {
  readonly conf: DispatchConf;
  readonly #name: string;
  private pkeys: string[] | null = null;
  /** Partitions (and the direct table) known to exist in this transaction. */
  private readonly known = new Set<string>();
  private readonly ignored = new Set<string>();
  /** Destination tables with buffered rows, in first-touch order. */
  private readonly touched = new Set<string>();
  private readonly bulk = new Map<string, TempLoader>();
  private readonly plainInserts = new Map<string, Row[]>();
  private timeZone: string | null = null;

  constructor(spec: HandlerSpec, tableName: string, args: HandlerArgs, destTable?: string | null) {
    // `table=` is the destination's name (compat for dest-table).
    super(spec, tableName, args, args.table || destTable);
    this.#name = spec.name;
    this.conf = parseDispatchConf(
      args,
      (n, v, d) => this.choiceArg(n, v, d),
      `handler ${spec.name} for ${tableName}`,
    );
    const enc = args.encoding;
    if (enc && !['utf8', 'utf-8'].includes(enc.toLowerCase()))
      throw new LondisteError(
        'usage',
        `handler ${spec.name} for ${tableName}: only utf8 supported (encoding=${enc})`,
      );
  }

  get name(): string {
    return this.#name;
  }

  /** Copy: the fields map and skip list apply to the copy too (into the destination itself). */
  get realCopy(): ((ctx: CopyContext) => Promise<CopyStats>) | undefined {
    if (this.conf.tableMode === 'ignore') return async () => ({ rows: 0, bytes: 0 });
    if (!this.conf.fieldMap && this.conf.skipFields.length === 0) return undefined;
    return (ctx) => this.copyMapped(ctx);
  }

  override async prepareBatch(ctx: ApplyContext): Promise<void> {
    if (this.conf.tableMode === 'part' && this.timeZone === null) {
      await ctx.applier.settle();
      const r = await ctx.local.query<{ tz: string }>("select current_setting('TimeZone') as tz");
      this.timeZone = r.rows[0]?.tz ?? 'UTC';
    }
  }

  override async processEvent(ev: PgqEvent, ctx: ApplyContext): Promise<void> {
    if (this.conf.tableMode === 'ignore') return;
    const { op, row, key } = fullRow(ev, this.name);
    if (!this.conf.eventTypes.includes(op)) return;
    this.pkeys ??= this.filterKeys(key);
    const data = this.filterRow(row);
    let dst = this.destTable;
    if (this.conf.tableMode === 'part') {
      const t = this.partTime(ev, data, ctx);
      dst = this.partName(t);
      if (this.ignored.has(dst)) return;
      if (!this.known.has(dst)) {
        // A chunk still writing (flushBehind) must finish before our DDL and savepoints.
        await ctx.applier.settle();
        await this.checkPart(ctx, dst, t);
        if (this.ignored.has(dst)) return;
      }
    }
    switch (this.conf.rowMode) {
      case 'keep_all':
        if (op === 'D') return;
        return this.add(ctx, dst, 'I', data, ev.id);
      case 'keep_latest':
        if (op === 'U') {
          await this.add(ctx, dst, 'D', data, ev.id);
          return this.add(ctx, dst, 'I', data, ev.id);
        }
        return this.add(ctx, dst, op, data, ev.id);
      default:
        return this.add(ctx, dst, op, data, ev.id);
    }
  }

  override async truncate(_ev: PgqEvent, ctx: ApplyContext): Promise<void> {
    if (this.conf.tableMode === 'ignore') return;
    await truncateDest(this, ctx, this.conf.ignoreTruncate);
  }

  override async flush(ctx: ApplyContext): Promise<void> {
    for (const dst of this.touched) {
      const plain = this.plainInserts.get(dst);
      if (plain?.length) {
        this.plainInserts.set(dst, []);
        await ctx.applier.settle();
        await this.insertPlain(ctx.local, dst, plain);
      }
      const bulk = this.bulk.get(dst);
      if (bulk?.pending) {
        await ctx.applier.settle();
        await bulk.flush(ctx.local, ctx.log);
      }
      await ctx.applier.flush(ctx.local, dst);
    }
    this.touched.clear();
  }

  override reset(): void {
    for (const l of this.bulk.values()) {
      l.reset();
      l.invalidate();
    }
    this.plainInserts.clear();
    this.touched.clear();
    // DDL of the rolled-back transaction is gone too.
    this.known.clear();
    this.ignored.clear();
  }

  // ---- rows ----------------------------------------------------------------------------------

  private filterRow(row: Row): Row {
    let data = row;
    const skip = this.conf.skipFields;
    if (skip.length) data = Object.fromEntries(Object.entries(data).filter(([k]) => !skip.includes(k)));
    const map = this.conf.fieldMap;
    // A mapped field the event lacks becomes NULL, as the original.
    if (map) data = Object.fromEntries([...map].map(([src, dst]) => [dst, data[src] ?? null]));
    return data;
  }

  private filterKeys(keys: readonly string[]): string[] {
    let k = [...keys];
    if (this.conf.skipFields.length) k = k.filter((f) => !this.conf.skipFields.includes(f));
    const map = this.conf.fieldMap;
    if (map) k = k.filter((f) => map.has(f)).map((f) => map.get(f)!);
    return k;
  }

  private async add(ctx: ApplyContext, dst: string, op: ChangeOp, row: Row, evId: bigint): Promise<void> {
    this.touched.add(dst);
    const key = this.pkeys ?? [];
    if (this.conf.loadMode === 'bulk') {
      let l = this.bulk.get(dst);
      if (!l) {
        l = new TempLoader(dst, key, {
          method: this.conf.method,
          checkCounts: this.conf.tableMode === 'direct',
          analyze: this.conf.analyze,
        });
        this.bulk.set(dst, l);
      }
      l.process(op, row);
      return;
    }
    if (this.conf.rowMode === 'keep_all') {
      const list = this.plainInserts.get(dst) ?? [];
      list.push(row);
      this.plainInserts.set(dst, list);
      if (list.length >= 10_000) await this.flush(ctx);
      return;
    }
    const change: RowChange = { kind: 'row', evId, table: this.tableName, op, row, key, partial: false };
    if (ctx.applier.add(dst, change)) await this.flush(ctx);
  }

  /** keep_all: every row version is a new row (tables without a key included). */
  private async insertPlain(local: pg.ClientBase, dst: string, rows: Row[]): Promise<void> {
    await local.query('savepoint londiste_dispatch');
    try {
      const shape = await readShape(local, dst);
      const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      const casts = cols.map((c) => {
        const col = shape.columns.get(c);
        if (!col)
          throw new LondisteError('apply_failed', `table ${dst}, column ${c}: no such column on this node`, {
            sqlState: '42703',
          });
        return `s.${quoteIdent(c)}::${col.type}`;
      });
      await local.query(
        `insert into ${shape.quoted} (${cols.map(quoteIdent).join(', ')})
         select ${casts.join(', ')} from json_to_recordset($1::json) as s(${cols.map((c) => `${quoteIdent(c)} text`).join(', ')})`,
        [JSON.stringify(rows)],
      );
      await local.query('release savepoint londiste_dispatch');
    } catch (err) {
      const mapped = asApplyError(err, dst);
      if (mapped instanceof LondisteError) {
        await local.query('rollback to savepoint londiste_dispatch');
        await local.query('release savepoint londiste_dispatch');
      }
      throw mapped;
    }
  }

  // ---- partitions ----------------------------------------------------------------------------

  private partTime(ev: PgqEvent, data: Row, ctx: ApplyContext): TimeParts {
    switch (this.conf.partMode) {
      case 'batch_time':
        return this.zoned(ctx.batch.tickTime);
      case 'event_time':
        return this.zoned(ev.time);
      case 'current_time':
        return this.zoned(new Date());
      default: {
        const field = this.conf.partField as string;
        const v = data[field];
        if (v == null)
          throw new LondisteError(
            'bad_event',
            `event ${ev.id}: part_field(${field}) is NULL in ${this.tableName}`,
          );
        // The value's own wall-clock time, as the original reads its first 19 characters.
        const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?/.exec(v);
        if (!m)
          throw new LondisteError('bad_event', `event ${ev.id}: part_field(${field}) is not a date: ${v}`);
        const [, y, mo, d, h = '00', mi = '00', s = '00'] = m;
        return { year: y!, month: mo!, day: d!, hour: h, text: `${y}-${mo}-${d} ${h}:${mi}:${s}` };
      }
    }
  }

  private zoned(t: Date): TimeParts {
    let fmt: Intl.DateTimeFormat;
    try {
      fmt = new Intl.DateTimeFormat('en-CA', {
        timeZone: this.timeZone ?? 'UTC',
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
    } catch {
      // A zone Intl does not know (a POSIX spec): the parts in UTC.
      this.timeZone = 'UTC';
      return this.zoned(t);
    }
    const p = Object.fromEntries(fmt.formatToParts(t).map((x) => [x.type, x.value]));
    return {
      year: p.year!,
      month: p.month!,
      day: p.day!,
      hour: p.hour!,
      text: `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`,
    };
  }

  private partName(t: TimeParts): string {
    const tmpl =
      this.conf.partName ??
      [
        'parent',
        ...PERIOD_PARTS.slice(0, PERIOD_PARTS.indexOf(this.conf.period as (typeof PERIOD_PARTS)[number]) + 1),
      ]
        .map((p) => `%(${p})s`)
        .join('_');
    return pyFormat(tmpl, { parent: this.destTable, year: t.year, month: t.month, day: t.day, hour: t.hour });
  }

  /** Makes sure the partition exists (the original's check_part). */
  private async checkPart(ctx: ApplyContext, dst: string, t: TimeParts): Promise<void> {
    const local = ctx.local;
    const c = this.conf;
    if (c.ignoreOldEvents && c.retentionPeriod) {
      const r = await local.query('select londiste.is_obsolete_partition($1, $2, $3) as old', [
        dst,
        c.retentionPeriod,
        c.period,
      ]);
      if (r.rows[0]?.old) {
        ctx.log.info('ignored table', { table: dst });
        this.ignored.add(dst);
        return;
      }
    }
    const exists = await local.query('select to_regclass($1) is not null as e', [quoteFqname(dst)]);
    if (exists.rows[0]?.e) {
      this.known.add(dst);
      return;
    }
    const qdst = quoteFqname(dst);
    const vals: Record<string, string | null> = {
      dest: qdst,
      part: qdst,
      parent: quoteFqname(this.destTable),
      pkeys: (this.pkeys ?? []).join(','),
      pkey: (this.pkeys ?? []).join(','),
      schema_table: qdst.replaceAll('.', '__'),
      part_field: c.partField,
      part_time: t.text,
      period: c.period,
    };
    if (c.prePart) await local.query(pyFormat(c.prePart, vals));
    if (c.partTemplate) {
      await local.query(pyFormat(c.partTemplate, vals));
    } else {
      let func = c.partFunc;
      let have = await functionExists(local, func, 6);
      if (!have && func === PART_FUNC_NEW) {
        func = PART_FUNC_OLD;
        have = await functionExists(local, func, 6);
      }
      if (have) {
        await local.query(`select ${quoteFqname(func)}($1, $2, $3, $4, $5, $6)`, [
          vals.parent,
          vals.part,
          vals.pkeys,
          vals.part_field,
          vals.part_time,
          vals.period as Period,
        ]);
      } else {
        ctx.log.debug('partition function not found, cloning the table', { func: c.partFunc });
        await local.query(`create table ${qdst} (like ${quoteFqname(this.destTable)} including all)`);
      }
    }
    if (c.postPart) await local.query(pyFormat(c.postPart, vals));
    ctx.log.info('created table', { table: dst });
    this.known.add(dst);
    if (c.retentionPeriod) {
      const r = await local.query<{ t: string }>(
        'select londiste.drop_obsolete_partitions($1, $2, $3) as t',
        [this.destTable, c.retentionPeriod, c.period],
      );
      const dropped = r.rows.map((x) => x.t).filter(Boolean);
      if (dropped.length) ctx.log.info('dropped tables', { tables: dropped.join(', ') });
      for (const d of dropped) {
        this.known.delete(d);
        if (c.ignoreOldEvents) this.ignored.add(d);
      }
    }
  }

  // ---- copy ----------------------------------------------------------------------------------

  private async copyMapped(ctx: CopyContext): Promise<CopyStats> {
    let src = ctx.columns.filter((col) => !this.conf.skipFields.includes(col));
    const map = this.conf.fieldMap;
    if (map) src = src.filter((col) => map.has(col));
    return copyRows(ctx, {
      srcTable: ctx.sourceTable,
      srcColumns: src,
      dstTable: this.destTable,
      condition: (await this.copyCondition(ctx)) || undefined,
      transform: (row) =>
        map ? Object.fromEntries(src.map((col) => [map.get(col)!, row[col] ?? null])) : row,
    });
  }
}

/** skytools.exists_function: `schema.name` with that many arguments (no schema: visible ones). */
async function functionExists(local: pg.ClientBase, name: string, nargs: number): Promise<boolean> {
  const dot = name.indexOf('.');
  const r =
    dot < 0
      ? await local.query(
          'select 1 from pg_catalog.pg_proc p where p.proname = $1 and p.pronargs = $2 and pg_catalog.pg_function_is_visible(p.oid)',
          [name, nargs],
        )
      : await local.query(
          `select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
            where n.nspname = $1 and p.proname = $2 and p.pronargs = $3`,
          [name.slice(0, dot), name.slice(dot + 1), nargs],
        );
  return r.rows.length > 0;
}
