// `bulk`: a batch's rows of the table written with a few set statements through a temp table
// (temp-load.ts) instead of one statement per event — for OLAP destinations where per-row
// statements are slow. Methods 0 (correct), 1 (delete), 2 (merged) as the original's bulk.py.
import type { PgqEvent } from '../../pgq/consumer.ts';
import { type ApplyContext, BaseHandler, type HandlerArgs, type HandlerSpec } from '../handler.ts';
import { fullRow } from './rows.ts';
import { type BulkMethod, TempLoader } from './temp-load.ts';
import { truncateDest } from './truncate.ts';

export const bulkHandlerSpec: HandlerSpec = {
  name: 'bulk',
  summary:
    'Bulk loading into OLAP database. Instead of statement-per-event, load all data with one big COPY, UPDATE or DELETE statement.',
  args: [
    {
      name: 'method',
      usage: 'method=TYPE',
      help: 'method to use for copying [0..2] (default: 0). 0 (correct) - inserts as COPY into table, update as COPY into temp table and single UPDATE from there, delete as COPY into temp table and single DELETE from there; 1 (delete) - as correct, but do update as DELETE + COPY; 2 (merged) - as delete, but merge insert rows with update rows',
    },
    {
      name: 'ignore_truncate',
      usage: 'ignore_truncate=BOOL',
      help: 'Ignore truncate event. Default: 0; Values: 0,1.',
    },
  ],
  create: (tableName, args, destTable) => new BulkHandler(tableName, args, destTable),
};

export class BulkHandler extends BaseHandler {
  readonly method: BulkMethod;
  readonly ignoreTruncate: boolean;
  private loader: TempLoader | null = null;

  constructor(tableName: string, args: HandlerArgs, destTable?: string | null) {
    super(bulkHandlerSpec, tableName, args, destTable);
    this.method = Number(this.choiceArg('method', ['0', '1', '2'], '0')) as BulkMethod;
    this.ignoreTruncate = this.choiceArg('ignore_truncate', ['0', '1'], '0') === '1';
  }

  get name(): string {
    return 'bulk';
  }

  override async processEvent(ev: PgqEvent, _ctx: ApplyContext): Promise<void> {
    const { op, row, key } = fullRow(ev, this.name);
    // The key of the table's first event names the columns for the handler's life, as the original.
    this.loader ??= new TempLoader(this.destTable, key, { method: this.method, checkCounts: true });
    this.loader.process(op, row);
  }

  override async truncate(_ev: PgqEvent, ctx: ApplyContext): Promise<void> {
    await truncateDest(this, ctx, this.ignoreTruncate);
  }

  override async flush(ctx: ApplyContext): Promise<void> {
    if (!this.loader?.pending) return;
    await ctx.applier.settle(); // no other table's chunk may be writing around our savepoint
    await this.loader.flush(ctx.local, ctx.log);
  }

  override reset(): void {
    this.loader?.reset();
    this.loader?.invalidate();
  }
}
