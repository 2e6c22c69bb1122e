// `shard` (and its old name `part`): a table split over several databases by a hash of a key
// column, as the original's shard.py. On the root the trigger writes the row's hash into
// ev_extra3 (`ev_extra3='hash='||<hash expression>`); a node keeps only the events and, at copy
// time, the rows whose hash masked by the node's shard mask equals its shard number; a branch
// also passes on only those events in its own queue.
//
// Where the node's shard comes from, as the original: the [londiste] keys `shard_info_sql`
// (default `select shard_nr, shard_mask, shard_count from partconf.conf`) and `shard_hash_func`
// (default `partconf.get_hash_raw`), read on this node. shard_count must be a power of two with
// shard_mask = shard_count - 1, and 0 <= shard_nr < shard_count.
import type pg from 'pg';
import { quoteFqname, quoteIdent } from '../../db/ident.ts';
import type { PgqEvent } from '../../pgq/consumer.ts';
import { LondisteError } from '../errors.ts';
import type {
  ApplyContext,
  CopyContext,
  CopyStats,
  HandlerArgs,
  HandlerConf,
  HandlerSpec,
} from '../handler.ts';
import { dbUrldecode } from '../urlenc.ts';
import { LondisteHandler, londisteHandlerSpec } from './londiste.ts';

const DEFAULT_HASH_FUNC = 'partconf.get_hash_raw';
const DEFAULT_INFO_SQL = 'select shard_nr, shard_mask, shard_count from partconf.conf';

/** The [londiste] keys shard reads (load_conf), shared by every shard/part table of the job. */
const conf = { hashFunc: DEFAULT_HASH_FUNC, infoSql: DEFAULT_INFO_SQL };

function loadShardConf(c: HandlerConf): void {
  conf.hashFunc = c.get('shard_hash_func') || DEFAULT_HASH_FUNC;
  conf.infoSql = c.get('shard_info_sql') || DEFAULT_INFO_SQL;
}

const SHARD_ARGS = [
  { name: 'key', usage: 'key=COLUMN', help: 'column name to use for hashing' },
  {
    name: 'hash_key',
    usage: 'hash_key=COLUMN',
    help: "column name to use for hashing (overrides 'key' parameter)",
  },
  {
    name: 'hash_expr',
    usage: 'hash_expr=EXPR',
    help: 'full hash expression instead of <shard_hash_func>(<key>)',
  },
  {
    name: 'hashfunc',
    usage: 'hashfunc=FUNC',
    help: 'hash function instead of shard_hash_func (the old part handler argument)',
  },
  { name: 'hashexpr', usage: 'hashexpr=EXPR', help: 'old name of hash_expr' },
  ...londisteHandlerSpec.args,
  {
    name: 'disable_replay',
    usage: 'disable_replay=BOOL',
    help: 'no replay to table, just copy events. default: 0, values: 0 1',
  },
];

function shardSpec(name: string, summary: string): HandlerSpec {
  const spec: HandlerSpec = {
    name,
    summary,
    args: SHARD_ARGS,
    create: (tableName, args, destTable) => new ShardHandler(tableName, args, destTable, spec),
    loadConf: loadShardConf,
  };
  return spec;
}

export const shardHandlerSpec = shardSpec('shard', 'Event filtering by hash, for partitioned databases.');
export const partHandlerSpec = shardSpec(
  'part',
  'Deprecated compat name for shard handler. Event filtering by hash, for partitioned databases.',
);

export interface ShardInfo {
  nr: number;
  mask: number;
  count: number;
}

/** The node's shard, from shard_info_sql, checked as the original checks it. */
export async function loadShardInfo(local: pg.ClientBase): Promise<ShardInfo> {
  const r = await local.query(conf.infoSql);
  const row = r.rows[0];
  const vals = row ? Object.values(row) : [];
  const [nr, mask, count] = vals.map((v) => (v == null ? null : Number(v)));
  if (nr == null || mask == null || count == null)
    throw new LondisteError('state', `shard: error loading shard info (${conf.infoSql})`);
  if ((count & mask) !== 0 || mask + 1 !== count)
    throw new LondisteError('state', `shard: invalid shard info: mask ${mask}, count ${count}`);
  if (nr < 0 || nr >= count)
    throw new LondisteError('state', `shard: invalid shard nr ${nr} (count ${count})`);
  return { nr, mask, count };
}

export class ShardHandler extends LondisteHandler {
  readonly hashKey: string;
  readonly disableReplay: boolean;
  private readonly explicitExpr: string | undefined;
  private readonly hashFunc: string | undefined;
  private info: ShardInfo | null = null;
  /** Only with disable_replay (nothing copied); otherwise the copy job's COPY with copyCondition. */
  readonly realCopy: ((ctx: CopyContext) => Promise<CopyStats>) | undefined;

  constructor(tableName: string, args: HandlerArgs, destTable: string | null | undefined, spec: HandlerSpec) {
    super(tableName, args, destTable, spec);
    const key = args.hash_key ?? args.key;
    if (!key)
      throw new LondisteError(
        'usage',
        `handler ${spec.name} for ${tableName}: specify hash key field as hash_key argument`,
      );
    this.hashKey = key;
    this.explicitExpr = args.hash_expr ?? args.hashexpr ?? undefined;
    this.hashFunc = args.hashfunc ?? undefined;
    this.disableReplay = ['true', '1'].includes(args.disable_replay ?? 'false');
    this.realCopy = this.disableReplay ? async () => ({ rows: 0, bytes: 0 }) : undefined;
  }

  /** `<func>(<key>)`, or the hash expression given. Read when used: loadConf may come later. */
  get hashExpr(): string {
    return this.explicitExpr ?? `${quoteFqname(this.hashFunc ?? conf.hashFunc)}(${quoteIdent(this.hashKey)})`;
  }

  override triggerArgs(args: readonly string[]): string[] {
    return [...args, `ev_extra3='hash='||${this.hashExpr}`];
  }

  override needsTable(): boolean {
    return !this.disableReplay;
  }

  override async prepareBatch(ctx: ApplyContext): Promise<void> {
    if (this.info) return;
    await ctx.applier.settle();
    this.info = await loadShardInfo(ctx.local);
  }

  async prepareCopyEvents(local: pg.ClientBase): Promise<void> {
    this.info ??= await loadShardInfo(local);
  }

  /** Is the event's row one of this node's (ev_extra3 `hash=N`)? */
  isLocal(ev: PgqEvent): boolean {
    if (ev.extra3 == null)
      throw new LondisteError('bad_event', `event ${ev.id}: shard: extra3 not filled on ${this.tableName}`);
    const info = this.info;
    if (!info) throw new LondisteError('state', `shard ${this.tableName}: shard info not loaded`);
    const hash = dbUrldecode(ev.extra3).hash;
    if (hash == null || !/^-?\d+$/.test(hash))
      throw new LondisteError('bad_event', `event ${ev.id}: shard: no hash in extra3 of ${this.tableName}`);
    // The hash is an int4 or int8; the mask fits 31 bits, so the low bits decide.
    return Number(BigInt(hash) & BigInt(info.mask)) === info.nr;
  }

  override async processEvent(ev: PgqEvent, ctx: ApplyContext): Promise<void> {
    if (this.disableReplay) return;
    if (this.isLocal(ev)) await super.processEvent(ev, ctx);
  }

  override async copyCondition(ctx: Omit<CopyContext, 'columns' | 'sourceTable'>): Promise<string> {
    this.info = await loadShardInfo(ctx.local);
    return `(${this.hashExpr} & ${this.info.mask}) = ${this.info.nr}`;
  }

  copyEvent(ev: PgqEvent, _queue: string): PgqEvent | null {
    return this.isLocal(ev) ? ev : null;
  }
}
