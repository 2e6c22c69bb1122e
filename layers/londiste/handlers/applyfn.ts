// `applyfn`: every event of the table becomes a call of a database function, as the original's
// applyfn.py: `select func(func_conf, tick_id, ev_id, ev_time, ev_txid, ev_retry, ev_type,
// ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)` — the function decides what the event
// does. Called at once, in event order, in the batch's transaction; values as untyped
// parameters (the original passes quoted literals), so the function's own argument types apply.
import { quoteFqname } from '../../db/ident.ts';
import type { PgqEvent } from '../../pgq/consumer.ts';
import { asApplyError } from '../apply/errors.ts';
import { LondisteError } from '../errors.ts';
import { type ApplyContext, BaseHandler, type HandlerArgs, type HandlerSpec } from '../handler.ts';
import { truncateDest } from './truncate.ts';

export const applyfnHandlerSpec: HandlerSpec = {
  name: 'applyfn',
  summary: 'Call DB function to apply event.',
  args: [
    { name: 'func_name', usage: 'func_name=NAME', help: 'database function name' },
    { name: 'func_conf', usage: 'func_conf=CONF', help: 'database function conf' },
  ],
  create: (tableName, args, destTable) => new ApplyFnHandler(applyfnHandlerSpec, tableName, args, destTable),
};

export class ApplyFnHandler extends BaseHandler {
  readonly funcName: string;
  readonly funcConf: string;
  private curTick: bigint | null = null;
  readonly #name: string;

  constructor(spec: HandlerSpec, tableName: string, args: HandlerArgs, destTable?: string | null) {
    super(spec, tableName, args, destTable);
    this.#name = spec.name;
    const fn = args.func_name;
    if (!fn) throw new LondisteError('usage', `handler ${spec.name} for ${tableName}: func_name is required`);
    this.funcName = fn;
    this.funcConf = args.func_conf ?? '';
  }

  get name(): string {
    return this.#name;
  }

  override async prepareBatch(ctx: ApplyContext): Promise<void> {
    this.curTick = ctx.batch.tickId;
  }

  override async processEvent(ev: PgqEvent, ctx: ApplyContext): Promise<void> {
    await this.call(ev, ctx);
  }

  /** As the original's playback does for every handler: the destination is truncated. */
  override async truncate(_ev: PgqEvent, ctx: ApplyContext): Promise<void> {
    await truncateDest(this, ctx, false);
  }

  private async call(ev: PgqEvent, ctx: ApplyContext): Promise<void> {
    const params = [
      this.funcConf,
      this.curTick ?? ctx.batch.tickId,
      ev.id,
      ev.time,
      ev.txid,
      ev.retry,
      ev.type,
      ev.data,
      ev.extra1,
      ev.extra2,
      ev.extra3,
      ev.extra4,
    ].map((v) => (v == null ? null : v instanceof Date ? v.toISOString() : String(v)));
    // Another table's chunk may still be writing (flushBehind): its savepoint must not enclose ours.
    await ctx.applier.settle();
    const sql = `select ${quoteFqname(this.funcName)}(${params.map((_, i) => `$${i + 1}`).join(', ')})`;
    await ctx.local.query('savepoint londiste_applyfn');
    try {
      await ctx.local.query(sql, params);
      await ctx.local.query('release savepoint londiste_applyfn');
    } catch (err) {
      const mapped = asApplyError(err, this.destTable, ev.id);
      if (mapped instanceof LondisteError) {
        await ctx.local.query('rollback to savepoint londiste_applyfn');
        await ctx.local.query('release savepoint londiste_applyfn');
      }
      throw mapped;
    }
  }
}
