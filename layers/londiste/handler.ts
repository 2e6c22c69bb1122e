// The table handler contract: per replicated table, what the replay worker calls to apply a batch's
// events, what add-table asks of it (trigger arguments, whether the destination table must exist)
// and what the table copy asks (a WHERE condition, optionally the copy itself). The same points of
// extension as the original's londiste/handler.py BaseHandler, so its handlers (bulk, applyfn,
// qtable, dispatch, shard, …) map onto it one to one; the handler string stored in table_attrs
// (`name(arg=v&arg2=w)`) is read and written exactly as the original does.
import type pg from 'pg';
import type { PgqEvent } from '../pgq/consumer.ts';
import type { Logger } from '../util/log.ts';
import type { SetApplier } from './apply/applier.ts';
import { LondisteError } from './errors.ts';
import { dbUrldecode, dbUrlencode } from './urlenc.ts';

/** Handler arguments as parsed from the handler string (values are text, as in the original). */
export type HandlerArgs = Readonly<Record<string, string | null>>;

/** What a handler sees of the batch being applied. */
export interface HandlerBatch {
  queue: string;
  batchId: bigint;
  tickId: bigint;
  prevTickId: bigint;
  tickTime: Date;
  prevTickTime: Date;
}

/**
 * Everything a handler needs while a batch is applied. `local` is the subscriber connection inside
 * the batch's one transaction (session_replication_role = replica, set by the worker); `applier`
 * is the worker's set-based apply, shared by every table of the batch (it owns the per-table
 * buffers and the table-shape cache).
 */
export interface ApplyContext {
  local: pg.ClientBase;
  applier: SetApplier;
  batch: HandlerBatch;
  log: Logger;
}

/** What a copy hook gets: both ends of the copy, the columns both tables have. */
export interface CopyContext {
  provider: pg.ClientBase;
  local: pg.ClientBase;
  /** The source table on the provider (fully qualified, unquoted). */
  sourceTable: string;
  columns: readonly string[];
  log: Logger;
}

export interface CopyStats {
  rows: number;
  bytes: number;
}

/**
 * One table's handler, built per table from its handler string (buildHandler in handlers/index.ts).
 *
 * Call order per batch, by the worker: `prepareBatch` on the table's first event of the batch,
 * then `processEvent` / `truncate` for each of its events in event order, `flush` whenever the
 * worker needs everything written so far (before TRUNCATE, EXECUTE, any non-row event and before
 * finishing), then `finishBatch`. `reset` drops whatever is buffered (the batch is being retried).
 * A handler may buffer rows between calls; after `flush` resolves, all of them are in the table.
 *
 * Errors: a change the destination table cannot take is a LondisteError('apply_failed') naming
 * the table (the worker isolates that table); connection errors pass through unchanged.
 */
export interface TableHandler {
  /** The handler's registered name ('londiste', …). */
  readonly name: string;
  /** The replicated (source) table, `schema.table` as in ev_extra1. */
  readonly tableName: string;
  /** Where rows are written on this node (dest_table, default the source table's name). */
  readonly destTable: string;
  readonly args: HandlerArgs;

  /**
   * True when the handler writes only through `ctx.applier` (the default handler and those built
   * on it). For any other handler the worker first waits for a chunk still being written behind
   * (applier.settle), so the handler's own statements never interleave with that chunk's
   * savepoint. Undefined: false.
   */
  readonly writesOnlyThroughApplier?: boolean;
  /** add-table: does the destination table have to exist on the subscriber? */
  needsTable(): boolean;
  /** add-table: the provider trigger's arguments, with whatever this handler adds. */
  triggerArgs(args: readonly string[]): string[];

  prepareBatch(ctx: ApplyContext): Promise<void>;
  /**
   * One row event of the table (logutriga I:/U:/D:, sqltriga I/U/D, jsontriga), in event order.
   * May return nothing when it had nothing to wait for (the default handler buffering a row):
   * replay's hot path then costs no promise per event.
   */
  processEvent(ev: PgqEvent, ctx: ApplyContext): Promise<void> | void;
  /**
   * A TRUNCATE event (type `R`, or jsontriga's op TRUNCATE) of the table. The default flushes the
   * table and runs `TRUNCATE <dest> CASCADE`, or does nothing with `ignore_truncate=1`.
   */
  truncate(ev: PgqEvent, ctx: ApplyContext): Promise<void>;
  /** Writes everything buffered for this table. Callable at any time, any number of times. */
  flush(ctx: ApplyContext): Promise<void>;
  finishBatch(ctx: ApplyContext): Promise<void>;
  /** Drops buffered, unwritten changes (the batch's transaction is being rolled back). */
  reset(): void;

  /** The copy's WHERE condition on the source table (SQL text, '' for the whole table). */
  copyCondition(ctx: Omit<CopyContext, 'columns' | 'sourceTable'>): Promise<string>;
  /**
   * The copy itself, when the handler does it differently (the original's real_copy). Undefined:
   * the copy job's own COPY pipe, restricted by copyCondition.
   */
  realCopy?(ctx: CopyContext): Promise<CopyStats>;
  /**
   * On a branch, the event as it goes into the local queue: a handler may rewrite it, or drop it
   * (null). Undefined: copied unchanged.
   */
  copyEvent?(ev: PgqEvent, queue: string): PgqEvent | null;
  /**
   * On a branch, before copyEvent is called for a batch's events: loads what copyEvent needs
   * from the node (e.g. the shard's partition number), in the batch's transaction.
   */
  prepareCopyEvents?(local: pg.ClientBase): Promise<void>;
}

/** A handler's entry in the registry: how show-handlers describes it and how it is built. */
export interface HandlerSpec {
  name: string;
  /** One line for `show-handlers`. */
  summary: string;
  /** Accepted arguments with their help text (anything else is refused at build time). */
  args: readonly HandlerArgSpec[];
  create(tableName: string, args: HandlerArgs, destTable: string): TableHandler;
  /**
   * Reads the handler's keys of the job's `[londiste]` section (the original's load_conf: e.g.
   * shard_hash_func, obfuscator_map), once at worker/admin start before any handler is built.
   */
  loadConf?(conf: HandlerConf): void;
}

/** What loadConf sees of the job's config: the section's raw values and where the file is. */
export interface HandlerConf {
  get(key: string): string | undefined;
  /** The config file's directory (relative file names in the section are relative to it). */
  configDir: string;
}

export interface HandlerArgSpec {
  name: string;
  /** e.g. `encoding=ENC`, as shown by show-handlers. */
  usage: string;
  help: string;
}

/**
 * The handler base every handler extends: remembers its table, checks its arguments against its
 * spec, does nothing per event. Subclasses override what they need.
 */
export abstract class BaseHandler implements TableHandler {
  readonly tableName: string;
  readonly destTable: string;
  readonly args: HandlerArgs;

  constructor(spec: HandlerSpec, tableName: string, args: HandlerArgs, destTable?: string | null) {
    this.tableName = tableName;
    this.destTable = destTable || tableName;
    this.args = args;
    const known = new Set(spec.args.map((a) => a.name));
    const invalid = Object.keys(args).filter((k) => !known.has(k));
    if (invalid.length > 0) {
      throw new LondisteError(
        'usage',
        `handler ${spec.name} for ${tableName}: invalid handler argument: ${invalid.join(', ')}` +
          ` (accepted: ${[...known].join(', ') || 'none'})`,
      );
    }
  }

  abstract get name(): string;

  needsTable(): boolean {
    return true;
  }
  triggerArgs(args: readonly string[]): string[] {
    return [...args];
  }
  async prepareBatch(_ctx: ApplyContext): Promise<void> {}
  processEvent(_ev: PgqEvent, _ctx: ApplyContext): Promise<void> | void {}
  async truncate(_ev: PgqEvent, _ctx: ApplyContext): Promise<void> {}
  async flush(_ctx: ApplyContext): Promise<void> {}
  async finishBatch(ctx: ApplyContext): Promise<void> {
    await this.flush(ctx);
  }
  reset(): void {}
  async copyCondition(_ctx: Omit<CopyContext, 'columns' | 'sourceTable'>): Promise<string> {
    return '';
  }

  /**
   * An argument restricted to a list of values (the original's get_arg): absent → the default,
   * anything not in the list → a usage error naming the argument.
   */
  protected choiceArg<T extends string>(name: string, values: readonly T[], dflt: T): T {
    const v = this.args[name];
    if (v === undefined || v === null) return dflt;
    if (!(values as readonly string[]).includes(v)) {
      throw new LondisteError(
        'usage',
        `handler ${this.name} for ${this.tableName}: bad argument ${name}=${JSON.stringify(v)} (allowed: ${values.join(', ')})`,
      );
    }
    return v as T;
  }
}

/**
 * `--handler=NAME --handler-arg=k=v …` → the string stored in table_attrs: `NAME` or
 * `NAME(k=v&k2=w)` (the args db-urlencoded in the order given), as create_handler_string does.
 */
export function createHandlerString(name: string, argList: readonly string[] = []): string {
  if (name.includes('(')) throw new LondisteError('usage', `invalid handler name: ${name}`);
  if (argList.length === 0) return name;
  const args: Record<string, string> = {};
  for (const arg of argList) {
    const eq = arg.indexOf('=');
    const key = (eq < 0 ? arg : arg.slice(0, eq)).trim();
    const val = eq < 0 ? '' : arg.slice(eq + 1).trim();
    if (Object.hasOwn(args, key)) throw new LondisteError('usage', `multiple handler arguments: ${key}`);
    args[key] = val;
  }
  return `${name}(${dbUrlencode(args)})`;
}

/**
 * The stored handler string → name and arguments, as the original's _parse_handler: a `(` after
 * the first character starts the arguments (',' accepted as a separator besides '&'); no name
 * means the default handler 'londiste'.
 */
export function parseHandlerString(hstr: string | null | undefined): { name: string; args: HandlerArgs } {
  const s = hstr ?? '';
  const pos = s.indexOf('(');
  if (pos <= 0) return { name: s || 'londiste', args: {} };
  if (!s.endsWith(')')) throw new LondisteError('usage', `invalid handler format: ${s}`);
  const astr = s.slice(pos + 1, -1);
  return { name: s.slice(0, pos), args: astr ? dbUrldecode(astr.replaceAll(',', '&')) : {} };
}
