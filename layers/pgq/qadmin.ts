// qadmin: the PgQ administration statements of the original qadmin that make sense here, parsed
// from text ("show queue; show consumer on q1") and run against one database. Used by
// `skytools qadmin`; returns rows and messages, the caller formats them.
//
//   create queue Q                       drop queue Q
//   show queue [Q | *]                   show consumer [C [on Q] | Q [C]]
//   show batch ID | show batch Q C       register consumer C [on Q] [at TICK]
//   unregister consumer C|* [from Q]     alter queue Q|* set param = value [, param = value …]
//   install [pgq | pgq_node | pgq_coop | pgq_ext | all]
//
// Every statement is parsed before anything runs, and all of them run in one transaction, so
// a bad statement or an unknown queue changes nothing. `install` runs on its own.
import type pg from 'pg';
import { SkytoolsError } from '../errors/base.ts';
import { install } from '../install/installer.ts';
import { loadManifest } from '../install/manifest.ts';
import { asPgqError, PgqError } from './errors.ts';

export type Statement =
  | { kind: 'create_queue'; queue: string }
  | { kind: 'drop_queue'; queue: string }
  | { kind: 'show_queue'; queue: string | null }
  | { kind: 'show_consumer'; consumer: string | null; queue: string | null; either: string | null }
  | { kind: 'show_batch'; batchId: bigint }
  | { kind: 'show_open_batch'; queue: string; consumer: string }
  | { kind: 'register'; consumer: string; queue: string; tick: bigint | null }
  | { kind: 'unregister'; consumer: string; queue: string }
  | { kind: 'alter_queue'; queue: string; params: Array<[string, string]> }
  | { kind: 'install'; module: string };

export interface StatementResult {
  /** The statement as normalized text, e.g. "show queue q1". */
  statement: string;
  /** Result rows of show statements (column order as in `columns`). */
  rows?: Record<string, unknown>[];
  columns?: string[];
  /** What an action did, e.g. "queue q1 created". */
  message?: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing

type Token = { t: 'word' | 'quoted' | 'string' | 'punct'; v: string };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  // Bare words take letters of any script, as SQL identifiers do (queue zażółć, 注文).
  const re = /\s+|--[^\n]*|([\p{L}\p{M}\p{N}_.$*?-]+)|"((?:[^"]|"")*)"|'((?:[^']|'')*)'|([=,;])|(.)/guy;
  for (const m of text.matchAll(re)) {
    if (m[1] !== undefined) out.push({ t: 'word', v: m[1] });
    else if (m[2] !== undefined) out.push({ t: 'quoted', v: m[2].replaceAll('""', '"') });
    else if (m[3] !== undefined) out.push({ t: 'string', v: m[3].replaceAll("''", "'") });
    else if (m[4] !== undefined) out.push({ t: 'punct', v: m[4] });
    else if (m[5] !== undefined)
      throw new PgqError('invalid_statement', `syntax error: unexpected character ${JSON.stringify(m[5])}`);
  }
  return out;
}

class Parser {
  #toks: Token[];
  #i = 0;
  constructor(toks: Token[]) {
    this.#toks = toks;
  }
  get done() {
    return this.#i >= this.#toks.length;
  }
  peekKw(...kws: string[]): boolean {
    const t = this.#toks[this.#i];
    return !!t && t.t === 'word' && kws.includes(t.v.toLowerCase());
  }
  kw(...kws: string[]): string {
    const t = this.#toks[this.#i];
    if (t?.t !== 'word' || !kws.includes(t.v.toLowerCase())) {
      throw new PgqError(
        'invalid_statement',
        `syntax error: expected ${kws.join(' or ')}, got ${t ? JSON.stringify(t.v) : 'end'}`,
      );
    }
    this.#i++;
    return t.v.toLowerCase();
  }
  optKw(kw: string): boolean {
    if (!this.peekKw(kw)) return false;
    this.#i++;
    return true;
  }
  peekPunct(): boolean {
    return this.#toks[this.#i]?.t === 'punct';
  }
  punct(p: string): boolean {
    const t = this.#toks[this.#i];
    if (t?.t === 'punct' && t.v === p) {
      this.#i++;
      return true;
    }
    return false;
  }
  /** A name: bare word or "quoted identifier". */
  name(what: string): string {
    const t = this.#toks[this.#i];
    if (!t || (t.t !== 'word' && t.t !== 'quoted')) {
      throw new PgqError(
        'invalid_statement',
        `syntax error: expected ${what}, got ${t ? JSON.stringify(t.v) : 'end'}`,
      );
    }
    this.#i++;
    return t.v;
  }
  optName(): string | null {
    const t = this.#toks[this.#i];
    if (!t || (t.t !== 'word' && t.t !== 'quoted')) return null;
    this.#i++;
    return t.v;
  }
  /** A value: word, number, 'string' or "quoted". */
  value(what: string): string {
    const t = this.#toks[this.#i];
    if (!t || t.t === 'punct') {
      throw new PgqError(
        'invalid_statement',
        `syntax error: expected ${what}, got ${t ? JSON.stringify(t.v) : 'end'}`,
      );
    }
    this.#i++;
    return t.v;
  }
  int(what: string): bigint {
    const v = this.value(what);
    if (!/^\d+$/.test(v))
      throw new PgqError(
        'invalid_statement',
        `syntax error: ${what} must be a number, got ${JSON.stringify(v)}`,
      );
    return BigInt(v);
  }
  end() {
    const t = this.#toks[this.#i];
    if (t) throw new PgqError('invalid_statement', `syntax error: unexpected ${JSON.stringify(t.v)}`);
  }
}

const MODULES = ['pgq', 'pgq_node', 'pgq_coop', 'pgq_ext', 'all'];

/** Splits text into statements on ';' and parses each. Throws PgqError('invalid_statement') on any syntax error. */
export function parseStatements(text: string, defaults: { queue?: string } = {}): Statement[] {
  const tokens = tokenize(text);
  const groups: Token[][] = [[]];
  for (const tok of tokens) {
    if (tok.t === 'punct' && tok.v === ';') groups.push([]);
    else groups.at(-1)!.push(tok);
  }
  return groups.filter((g) => g.length > 0).map((g) => parseOne(new Parser(g), defaults));
}

function parseOne(p: Parser, defaults: { queue?: string }): Statement {
  const queueOr = (prep: string): string => {
    if (p.optKw(prep)) return p.name('queue name');
    if (defaults.queue) return defaults.queue;
    throw new PgqError(
      'invalid_statement',
      `syntax error: expected "${prep} <queue>" (or give a default queue with --queue)`,
    );
  };
  const verb = p.kw('create', 'drop', 'show', 'register', 'unregister', 'alter', 'install');
  let st: Statement;
  switch (verb) {
    case 'create':
      p.kw('queue');
      st = { kind: 'create_queue', queue: p.name('queue name') };
      break;
    case 'drop':
      p.kw('queue');
      st = { kind: 'drop_queue', queue: p.name('queue name') };
      break;
    case 'show': {
      const what = p.kw('queue', 'queues', 'consumer', 'consumers', 'batch');
      if (what.startsWith('queue')) {
        st = { kind: 'show_queue', queue: p.optName() };
      } else if (what.startsWith('consumer')) {
        if (p.optKw('on')) {
          st = { kind: 'show_consumer', consumer: null, queue: p.name('queue name'), either: null };
          break;
        }
        const first = p.optName();
        if (first != null && p.optKw('on')) {
          st = { kind: 'show_consumer', consumer: first, queue: p.name('queue name'), either: null };
        } else {
          const second = first == null ? null : p.optName();
          st =
            second != null
              ? { kind: 'show_consumer', queue: first, consumer: second, either: null }
              : { kind: 'show_consumer', queue: null, consumer: null, either: first };
        }
      } else {
        const first = p.name('batch id or queue name');
        if (/^\d+$/.test(first)) st = { kind: 'show_batch', batchId: BigInt(first) };
        else st = { kind: 'show_open_batch', queue: first, consumer: p.name('consumer name') };
      }
      break;
    }
    case 'register': {
      p.kw('consumer');
      const consumer = p.name('consumer name');
      let queue: string | null = null;
      let tick: bigint | null = null;
      while (!p.done) {
        if (p.optKw('on')) queue = p.name('queue name');
        else if (p.optKw('at')) tick = p.int('tick id');
        else break;
      }
      queue ??= queueOr('on');
      st = { kind: 'register', consumer, queue, tick };
      break;
    }
    case 'unregister': {
      p.kw('consumer');
      const consumer = p.name('consumer name');
      st = { kind: 'unregister', consumer, queue: queueOr('from') };
      break;
    }
    case 'alter': {
      p.kw('queue');
      const queue = p.name('queue name');
      p.kw('set');
      const params: Array<[string, string]> = [];
      do {
        const param = p.name('parameter name');
        if (!p.punct('='))
          throw new PgqError('invalid_statement', `syntax error: expected "=" after ${param}`);
        // An unquoted value may be several words: ticker_max_lag = 5 seconds
        const words = [p.value(`value of ${param}`)];
        while (!p.done && !p.peekPunct()) words.push(p.value(`value of ${param}`));
        params.push([param, words.join(' ')]);
      } while (p.punct(','));
      st = { kind: 'alter_queue', queue, params };
      break;
    }
    default: {
      const module = (p.optName() ?? 'all').toLowerCase();
      if (!MODULES.includes(module)) {
        throw new PgqError(
          'invalid_statement',
          `unknown module ${JSON.stringify(module)}: expected one of ${MODULES.join(', ')}`,
        );
      }
      st = { kind: 'install', module };
    }
  }
  p.end();
  return st;
}

export function describeStatement(st: Statement): string {
  const q = (s: string) => (/^[A-Za-z0-9_.$*?-]+$/.test(s) ? s : `"${s.replaceAll('"', '""')}"`);
  switch (st.kind) {
    case 'create_queue':
      return `create queue ${q(st.queue)}`;
    case 'drop_queue':
      return `drop queue ${q(st.queue)}`;
    case 'show_queue':
      return `show queue${st.queue ? ` ${q(st.queue)}` : ''}`;
    case 'show_consumer':
      if (st.either) return `show consumer ${q(st.either)}`;
      return `show consumer${st.consumer ? ` ${q(st.consumer)}` : ''}${st.queue ? ` on ${q(st.queue)}` : ''}`;
    case 'show_batch':
      return `show batch ${st.batchId}`;
    case 'show_open_batch':
      return `show batch ${q(st.queue)} ${q(st.consumer)}`;
    case 'register':
      return `register consumer ${q(st.consumer)} on ${q(st.queue)}${st.tick != null ? ` at ${st.tick}` : ''}`;
    case 'unregister':
      return `unregister consumer ${q(st.consumer)} from ${q(st.queue)}`;
    case 'alter_queue':
      return `alter queue ${q(st.queue)} set ${st.params.map(([k, v]) => `${k} = '${v.replaceAll("'", "''")}'`).join(', ')}`;
    case 'install':
      return `install ${st.module}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Running

const QUEUE_COLUMNS = [
  'queue_name',
  'queue_ntables',
  'queue_cur_table',
  'queue_rotation_period',
  'queue_switch_time',
  'queue_external_ticker',
  'queue_ticker_paused',
  'queue_ticker_max_count',
  'queue_ticker_max_lag',
  'queue_ticker_idle_period',
  'ticker_lag',
  'ev_per_sec',
  'ev_new',
  'last_tick_id',
];
const CONSUMER_COLUMNS = [
  'queue_name',
  'consumer_name',
  'lag',
  'last_seen',
  'last_tick',
  'current_batch',
  'next_tick',
  'pending_events',
];
const BATCH_COLUMNS = [
  'batch_id',
  'queue_name',
  'consumer_name',
  'batch_start',
  'batch_end',
  'prev_tick_id',
  'tick_id',
  'lag',
  'seq_start',
  'seq_end',
];
const INTERVALS = new Set([
  'queue_rotation_period',
  'queue_ticker_max_lag',
  'queue_ticker_idle_period',
  'ticker_lag',
  'lag',
  'last_seen',
]);

const selectList = (cols: string[]) =>
  cols.map((c) => (INTERVALS.has(c) ? `${c}::text as ${c}` : c)).join(', ');

/** `*` and `?` as wildcards; anything else matches itself. */
function matcher(pattern: string | null): (s: string) => boolean {
  if (pattern == null || pattern === '*') return () => true;
  if (!/[*?]/.test(pattern)) return (s) => s === pattern;
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
  );
  return (s) => re.test(s);
}

/** Queues matching a name (wildcards allowed when `wild`); throws when there is none. */
async function queueNames(client: pg.ClientBase, pattern: string, wild = false): Promise<string[]> {
  const r = await client.query<{ queue_name: string }>(
    'select queue_name from pgq.queue order by queue_name',
  );
  const m = wild ? matcher(pattern) : (s: string) => s === pattern;
  const names = r.rows.map((x) => x.queue_name).filter(m);
  if (names.length === 0) throw new PgqError('unknown_queue', `unknown queue: ${pattern}`);
  return names;
}

async function schemaReady(client: pg.ClientBase): Promise<void> {
  const r = await client.query("select to_regnamespace('pgq') is not null as ok");
  if (!r.rows[0].ok)
    throw new PgqError('not_installed', 'PgQ is not installed in this database (run: install pgq)');
}

/**
 * Runs parsed statements on `client` (not inside a transaction): all of them in one
 * transaction, or a lone `install`. On any error nothing is changed and the error is thrown.
 */
export async function runStatements(
  client: pg.ClientBase,
  statements: Statement[],
): Promise<StatementResult[]> {
  if (statements.length === 0) throw new PgqError('invalid_statement', 'no statement given');
  const installs = statements.filter((s) => s.kind === 'install');
  if (installs.length > 0) {
    if (statements.length > 1) throw new PgqError('invalid_statement', 'install must be the only statement');
    return [await runInstall(client, installs[0] as Extract<Statement, { kind: 'install' }>)];
  }
  await schemaReady(client);
  const results: StatementResult[] = [];
  await client.query('begin');
  try {
    for (const st of statements) {
      try {
        results.push({ statement: describeStatement(st), ...(await runOne(client, st)) });
      } catch (err) {
        const e = asPgqError(err, describeStatement(st));
        if (e instanceof SkytoolsError) throw e;
        throw new PgqError('unknown', `${describeStatement(st)}: ${(err as Error).message}`, { cause: err });
      }
    }
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  }
  return results;
}

async function runInstall(
  client: pg.ClientBase,
  st: Extract<Statement, { kind: 'install' }>,
): Promise<StatementResult> {
  if (st.module === 'pgq_ext') {
    // pgq_ext alone, e.g. into a consumer's target database that has no pgq.
    const chunks = loadManifest('pgq_ext/install.sql');
    await client.query('begin');
    try {
      for (const chunk of chunks) await client.query(chunk.text);
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => {});
      throw err;
    }
    const v = await client.query<{ v: string }>('select pgq_ext.version() as v');
    return { statement: 'install pgq_ext', message: `installed pgq_ext ${v.rows[0]!.v}` };
  }
  // The modules are installed together by one manifest (sql/install.sql).
  const res = await install(client);
  return {
    statement: describeStatement(st),
    message: `installed PgQ ${res.pgqVersion} with pgq_node, pgq_coop and pgq_ext (${res.files.length} files)`,
  };
}

async function runOne(client: pg.ClientBase, st: Statement): Promise<Omit<StatementResult, 'statement'>> {
  switch (st.kind) {
    case 'create_queue': {
      const r = await client.query<{ r: number }>('select pgq.create_queue($1) as r', [st.queue]);
      return {
        message: r.rows[0]!.r === 1 ? `queue ${st.queue} created` : `queue ${st.queue} already exists`,
      };
    }
    case 'drop_queue': {
      await queueNames(client, st.queue);
      await client.query('select pgq.drop_queue($1)', [st.queue]);
      return { message: `queue ${st.queue} dropped` };
    }
    case 'show_queue': {
      const r = await client.query(
        `select ${selectList(QUEUE_COLUMNS)} from pgq.get_queue_info() order by queue_name`,
      );
      const m = matcher(st.queue);
      const rows = r.rows.filter((x) => m(x.queue_name));
      if (st.queue && rows.length === 0 && !/[*?]/.test(st.queue))
        throw new PgqError('unknown_queue', `unknown queue: ${st.queue}`);
      return { columns: QUEUE_COLUMNS, rows };
    }
    case 'show_consumer': {
      if (st.queue && !/[*?]/.test(st.queue)) await queueNames(client, st.queue);
      const r = await client.query(
        `select ${selectList(CONSUMER_COLUMNS)} from pgq.get_consumer_info() order by queue_name, consumer_name`,
      );
      const mq = matcher(st.queue);
      const mc = matcher(st.consumer);
      const either = st.either == null ? null : matcher(st.either);
      const rows = r.rows.filter((x) =>
        either ? either(x.queue_name) || either(x.consumer_name) : mq(x.queue_name) && mc(x.consumer_name),
      );
      return { columns: CONSUMER_COLUMNS, rows };
    }
    case 'show_batch': {
      const r = await client.query(
        `select $1::bigint as batch_id, ${selectList(BATCH_COLUMNS.slice(1))} from pgq.get_batch_info($1)`,
        [st.batchId],
      );
      // Ours returns a row of NULLs for an unknown batch, the C extension none.
      if (r.rows.length === 0 || r.rows[0].queue_name == null)
        throw new PgqError('unknown_batch', `unknown batch: ${st.batchId}`);
      return { columns: BATCH_COLUMNS, rows: r.rows };
    }
    case 'show_open_batch': {
      await queueNames(client, st.queue);
      const c = await client.query<{ current_batch: unknown }>(
        'select current_batch from pgq.get_consumer_info() where queue_name = $1 and consumer_name = $2',
        [st.queue, st.consumer],
      );
      if (c.rows.length === 0)
        throw new PgqError(
          'not_subscribed',
          `consumer ${st.consumer} is not registered on queue ${st.queue}`,
        );
      const batch = c.rows[0]!.current_batch;
      if (batch == null) return { columns: BATCH_COLUMNS, rows: [] };
      return runOne(client, { kind: 'show_batch', batchId: BigInt(batch as bigint) });
    }
    case 'register': {
      await queueNames(client, st.queue);
      const r =
        st.tick == null
          ? await client.query<{ r: number }>('select pgq.register_consumer($1, $2) as r', [
              st.queue,
              st.consumer,
            ])
          : await client.query<{ r: number }>('select pgq.register_consumer_at($1, $2, $3) as r', [
              st.queue,
              st.consumer,
              st.tick,
            ]);
      const at = st.tick == null ? '' : ` at tick ${st.tick}`;
      return {
        message:
          r.rows[0]!.r === 1
            ? `consumer ${st.consumer} registered on ${st.queue}${at}`
            : `consumer ${st.consumer} already registered on ${st.queue}${at ? `; moved${at}` : ''}`,
      };
    }
    case 'unregister': {
      const queues = await queueNames(client, st.queue, true);
      const subs = await client.query<{ queue_name: string; consumer_name: string }>(
        'select queue_name, consumer_name from pgq.get_consumer_info() order by 1, 2',
      );
      const mc = matcher(st.consumer);
      const targets = subs.rows.filter((x) => queues.includes(x.queue_name) && mc(x.consumer_name));
      if (targets.length === 0) {
        throw new PgqError(
          'not_subscribed',
          `consumer ${st.consumer} is not registered on queue ${st.queue}`,
        );
      }
      for (const t of targets) {
        await client.query('select pgq.unregister_consumer($1, $2)', [t.queue_name, t.consumer_name]);
      }
      return {
        message: targets
          .map((t) => `consumer ${t.consumer_name} unregistered from ${t.queue_name}`)
          .join('\n'),
      };
    }
    case 'alter_queue': {
      const queues = await queueNames(client, st.queue, true);
      for (const queue of queues) {
        for (const [param, value] of st.params) {
          await client.query('select pgq.set_queue_config($1, $2, $3)', [queue, param, value]);
        }
      }
      return { message: `queue${queues.length > 1 ? 's' : ''} ${queues.join(', ')} altered` };
    }
    case 'install':
      throw new PgqError('invalid_statement', 'install must be the only statement');
  }
}

// ---------------------------------------------------------------------------------------------
// Output

function cell(v: unknown): string {
  if (v == null) return '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'boolean') return v ? 't' : 'f';
  return String(v);
}

/** psql-like aligned table: header, rule, rows, "(n rows)". */
export function formatTable(columns: string[], rows: Record<string, unknown>[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[], numeric: boolean[]) =>
    ` ${vals.map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join(' | ')}`.trimEnd();
  const isNum = columns.map(
    (c) =>
      rows.length > 0 &&
      rows.every((r) => r[c] == null || typeof r[c] === 'number' || typeof r[c] === 'bigint'),
  );
  const out = [
    line(
      columns,
      columns.map(() => false),
    ),
    widths.map((w) => '-'.repeat(w + 2)).join('+'),
    ...cells.map((row) => line(row, isNum)),
    `(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`,
  ];
  return `${out.join('\n')}\n`;
}

/** JSON-safe copy of a value: bigints as numbers when exact (else strings), dates as ISO text. */
export function toJson(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}
