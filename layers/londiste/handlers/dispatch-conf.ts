// dispatch's arguments (the original's dispatch.py "HANDLER ARGUMENTS"), their parsed form, and
// the presets: `hourly_event` … `yearly_time`, `bulk_hourly_event` … `bulk_yearly_time`,
// `bulk_direct` and `direct` — dispatch with other defaults, a table's own arguments winning.
import { LondisteError } from '../errors.ts';
import type { HandlerArgSpec, HandlerArgs } from '../handler.ts';
import type { BulkMethod } from './temp-load.ts';

export const TABLE_MODES = ['part', 'direct', 'ignore'] as const;
export const PART_MODES = ['batch_time', 'event_time', 'date_field', 'current_time'] as const;
export const ROW_MODES = ['plain', 'keep_all', 'keep_latest'] as const;
export const LOAD_MODES = ['direct', 'bulk'] as const;
export const PERIODS = ['day', 'month', 'year', 'hour'] as const;
export const EVENT_TYPES = ['I', 'U', 'D'] as const;
export const PART_FUNC_NEW = 'londiste.create_partition';
export const PART_FUNC_OLD = 'public.create_partition';

export type Period = (typeof PERIODS)[number];

export const DISPATCH_ARGS: readonly HandlerArgSpec[] = [
  {
    name: 'table_mode',
    usage: 'table_mode=part|direct|ignore',
    help: 'part - partitioned table (default); direct - non-partitioned table; ignore - all events are ignored',
  },
  {
    name: 'part_func',
    usage: 'part_func=FUNC',
    help: 'database function to use for creating partition table. default is {londiste|public}.create_partition',
  },
  {
    name: 'part_mode',
    usage: 'part_mode=batch_time|event_time|date_field|current_time',
    help: 'partitioned by batch creation time (default), event creation time, date_field value (part_field required) or current time',
  },
  {
    name: 'part_field',
    usage: 'part_field=COLUMN',
    help: 'date_field to use for partition. Required when part_mode=date_field',
  },
  {
    name: 'period',
    usage: 'period=hour|day|month|year',
    help: 'partition period, used for automatic part_name and part_template building (default: day)',
  },
  {
    name: 'part_name',
    usage: 'part_name=TEMPLATE',
    help: 'custom name template for partition table, e.g. %(parent)s_%(year)s_%(month)s_%(day)s; variables: parent, year, month, day, hour',
  },
  {
    name: 'part_template',
    usage: 'part_template=SQL',
    help: 'custom sql template for creating partition table (default: the partition function); variables: dest, part, parent, pkey, schema_table, part_field, part_time, period',
  },
  {
    name: 'row_mode',
    usage: 'row_mode=plain|keep_latest|keep_all',
    help: 'plain - each event creates SQL statement to run (default); keep_latest - change updates to DELETE + INSERT; keep_all - change updates to inserts, ignore deletes',
  },
  {
    name: 'event_types',
    usage: 'event_types=I,U,D',
    help: 'event types to process, separated by comma. Other events are ignored. default is all event types',
  },
  {
    name: 'load_mode',
    usage: 'load_mode=direct|bulk',
    help: 'how data is loaded to dst database: direct - using direct sql statements (default); bulk - using copy to temp table and then sql',
  },
  {
    name: 'method',
    usage: 'method=0|1|2|3',
    help: 'loading method for load_mode bulk (default 0): 0 (correct), 1 (delete), 2 (merged), 3 (insert) - COPY inserts into table, error when other events',
  },
  {
    name: 'fields',
    usage: 'fields=*|F1,F2:NEW2,…',
    help: "field name map for using just part of the fields and rename them: '*' - all fields (default); <field>[,<field>..]; <field>:<new_name>",
  },
  { name: 'skip_fields', usage: 'skip_fields=F1,F2', help: 'list of field names to skip' },
  { name: 'table', usage: 'table=NAME', help: 'new name of destination table. default is same as source' },
  {
    name: 'pre_part',
    usage: 'pre_part=SQL',
    help: 'sql statement(s) to execute before creating partition table (variables as part_template)',
  },
  {
    name: 'post_part',
    usage: 'post_part=SQL',
    help: 'sql statement(s) to execute after creating partition table (variables as part_template)',
  },
  {
    name: 'retention_period',
    usage: 'retention_period=INTERVAL',
    help: "how long to keep partitions around. examples: '3 months', '1 year'",
  },
  {
    name: 'ignore_old_events',
    usage: 'ignore_old_events=0|1',
    help: '0 - handle all events in the same way (default); 1 - ignore events coming for obsolete partitions',
  },
  {
    name: 'ignore_truncate',
    usage: 'ignore_truncate=0|1',
    help: '0 - process truncate event (default); 1 - ignore truncate event',
  },
  {
    name: 'encoding',
    usage: 'encoding=ENC',
    help: 'name of destination encoding (only utf8: events arrive validated over a UTF-8 connection)',
  },
  {
    name: 'analyze',
    usage: 'analyze=0|1',
    help: '0 - do not run analyze on temp tables (default); 1 - run analyze on temp tables',
  },
];

export interface DispatchConf {
  tableMode: (typeof TABLE_MODES)[number];
  analyze: boolean;
  partMode: (typeof PART_MODES)[number];
  partField: string | null;
  period: Period;
  partName: string | null;
  partTemplate: string | null;
  prePart: string | null;
  postPart: string | null;
  partFunc: string;
  retentionPeriod: string | null;
  ignoreOldEvents: boolean;
  rowMode: (typeof ROW_MODES)[number];
  eventTypes: readonly string[];
  loadMode: (typeof LOAD_MODES)[number];
  method: BulkMethod;
  skipFields: readonly string[];
  /** source field → destination field; null: every field as it is. */
  fieldMap: Map<string, string> | null;
  ignoreTruncate: boolean;
}

/** The parsed arguments, checked as the original's get_config checks them. */
export function parseDispatchConf(
  args: HandlerArgs,
  choice: <T extends string>(name: string, values: readonly T[], dflt: T) => T,
  who: string,
): DispatchConf {
  const tableMode = choice('table_mode', TABLE_MODES, 'part');
  const partMode = choice('part_mode', PART_MODES, 'batch_time');
  const partField = args.part_field || null;
  if (tableMode === 'part' && partMode === 'date_field' && !partField)
    throw new LondisteError('usage', `${who}: part_mode date_field requires part_field`);
  const et = args.event_types ?? '*';
  const eventTypes = et === '*' ? [...EVENT_TYPES] : et.split(',').map((e) => e.trim().toUpperCase());
  for (const e of eventTypes) {
    if (!(EVENT_TYPES as readonly string[]).includes(e))
      throw new LondisteError('usage', `${who}: unsupported operation in event_types: ${e}`);
  }
  const fields = args.fields ?? '*';
  let fieldMap: Map<string, string> | null = null;
  if (fields !== '*') {
    fieldMap = new Map();
    for (const f of fields.split(',')) {
      const [src, dst] = f.split(':');
      fieldMap.set(src!, dst ?? src!);
    }
  }
  return {
    tableMode,
    analyze: choice('analyze', ['0', '1'], '0') === '1',
    partMode,
    partField,
    period: choice('period', PERIODS, 'day'),
    partName: args.part_name || null,
    partTemplate: args.part_template || null,
    prePart: args.pre_part || null,
    postPart: args.post_part || null,
    partFunc: args.part_func || PART_FUNC_NEW,
    retentionPeriod: args.retention_period || null,
    ignoreOldEvents: choice('ignore_old_events', ['0', '1'], '0') === '1',
    rowMode: choice('row_mode', ROW_MODES, 'plain'),
    eventTypes,
    loadMode: choice('load_mode', LOAD_MODES, 'direct'),
    method: Number(choice('method', ['0', '1', '2', '3'], '0')) as BulkMethod,
    skipFields: (args.skip_fields ?? '')
      .split(',')
      .map((f) => f.trim().toLowerCase())
      .filter(Boolean),
    fieldMap,
    ignoreTruncate: choice('ignore_truncate', ['0', '1'], '0') === '1',
  };
}

export interface Preset {
  name: string;
  defaults: Readonly<Record<string, string>>;
}

/** The original's generated handlers, in its order: load × period × mode, then bulk_direct, direct. */
export function dispatchPresets(): Preset[] {
  const load: [string, Record<string, string>][] = [
    ['', { load_mode: 'direct' }],
    ['bulk', { load_mode: 'bulk' }],
  ];
  const period: [string, Record<string, string>][] = [
    ['hourly', { period: 'hour' }],
    ['daily', { period: 'day' }],
    ['monthly', { period: 'month' }],
    ['yearly', { period: 'year' }],
  ];
  const mode: [string, Record<string, string>][] = [
    ['event', { part_mode: 'event_time' }],
    ['batch', { part_mode: 'batch_time' }],
    ['field', { part_mode: 'date_field' }],
    ['time', { part_mode: 'current_time' }],
  ];
  const base = { table_mode: 'part', row_mode: 'keep_latest' };
  const out: Preset[] = [];
  for (const [l, ld] of load)
    for (const [p, pd] of period)
      for (const [m, md] of mode)
        out.push({ name: [l, p, m].filter(Boolean).join('_'), defaults: { ...base, ...ld, ...pd, ...md } });
  out.push({ name: 'bulk_direct', defaults: { load_mode: 'bulk', table_mode: 'direct' } });
  out.push({ name: 'direct', defaults: { load_mode: 'direct', table_mode: 'direct' } });
  return out;
}

/** Python's `template % vals` for `%(name)s` and `%%`, as the original fills its templates. */
export function pyFormat(template: string, vals: Readonly<Record<string, string | null>>): string {
  return template.replace(/%%|%\(([A-Za-z_][A-Za-z0-9_]*)\)s/g, (_m, name?: string) => {
    if (!name) return '%';
    if (!Object.hasOwn(vals, name))
      throw new LondisteError('usage', `template ${JSON.stringify(template)}: unknown variable ${name}`);
    const v = vals[name];
    return v == null ? 'None' : v;
  });
}
