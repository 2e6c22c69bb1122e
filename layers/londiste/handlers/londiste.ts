// The default handler, 'londiste': every row event of the table goes to the shared set-based
// apply (layers/londiste/apply), TRUNCATE truncates the destination (CASCADE, as the original,
// so foreign keys pointing at it do not stop it) unless ignore_truncate=1.
import { quoteFqname } from '../../db/ident.ts';
import type { PgqEvent } from '../../pgq/consumer.ts';
import { LondisteError } from '../errors.ts';
import { decodeEvent } from '../events.ts';
import { type ApplyContext, BaseHandler, type HandlerArgs, type HandlerSpec } from '../handler.ts';

export const londisteHandlerSpec: HandlerSpec = {
  name: 'londiste',
  summary: 'Default Londiste handler, inserts events into tables with plain SQL.',
  args: [
    {
      name: 'encoding',
      usage: 'encoding=ENC',
      help: "Validate and fix incoming data from encoding. Only 'utf8' is supported at the moment.",
    },
    {
      name: 'ignore_truncate',
      usage: 'ignore_truncate=BOOL',
      help: 'Ignore truncate event. Default: 0; Values: 0,1.',
    },
  ],
  create: (tableName, args, destTable) => new LondisteHandler(tableName, args, destTable),
};

export class LondisteHandler extends BaseHandler {
  // Subclasses that run statements of their own settle the applier first (shard, obfuscate do).
  readonly writesOnlyThroughApplier: boolean = true;
  readonly ignoreTruncate: boolean;
  readonly #name: string;

  /** `spec`: a handler built on this one (shard, part) passes its own name and arguments. */
  constructor(
    tableName: string,
    args: HandlerArgs,
    destTable?: string | null,
    spec: HandlerSpec = londisteHandlerSpec,
  ) {
    super(spec, tableName, args, destTable);
    this.#name = spec.name;
    this.ignoreTruncate = this.choiceArg('ignore_truncate', ['0', '1'], '0') === '1';
    const enc = args.encoding;
    // Events and copies arrive as text over a UTF-8 client connection, so PostgreSQL has already
    // validated them; the argument is accepted (stored handler strings keep working) and checked.
    if (enc && !['utf8', 'utf-8'].includes(enc.toLowerCase())) {
      throw new LondisteError(
        'usage',
        `handler ${spec.name} for ${tableName}: only utf8 supported (encoding=${enc})`,
      );
    }
  }

  get name(): string {
    return this.#name;
  }

  override processEvent(ev: PgqEvent, ctx: ApplyContext): Promise<void> | void {
    // A full chunk is written while the next one is decoded (flushBehind); flush() waits for it.
    if (ctx.applier.add(this.destTable, decodeEvent(ev)))
      return ctx.applier.flushBehind(ctx.local, this.destTable);
    return undefined;
  }

  override async truncate(_ev: PgqEvent, ctx: ApplyContext): Promise<void> {
    if (this.ignoreTruncate) {
      ctx.log.info('ignoring truncate', { table: this.destTable });
      return;
    }
    await this.flush(ctx);
    await ctx.local.query(`truncate ${quoteFqname(this.destTable)} cascade`);
  }

  override async flush(ctx: ApplyContext): Promise<void> {
    await ctx.applier.flush(ctx.local, this.destTable);
  }

  override reset(): void {}
}
