// Queue-only tables, as the original's qtable.py and vtable.py: tables whose rows are not kept
// on this node.
//   qtable     on the root: the trigger is BEFORE INSERT with SKIP (the row is queued, never
//              stored) and the table is taken as in sync; events are ignored on the nodes below,
//              which still pass them on in their own queue when they are branches (the cascade
//              copies every event), and nothing is copied.
//   vtable     a table registered as local (state ok) without a table, a trigger or a copy;
//              events ignored. `fake_local` is its old name.
//   qsplitter  as vtable, and every event of the table goes into another queue of this node
//              (`queue=`), with its type, data, extras and time, in the batch's transaction.
import type { PgqEvent } from '../../pgq/consumer.ts';
import { requeueEvents } from '../../pgq/producer.ts';
import { LondisteError } from '../errors.ts';
import {
  type ApplyContext,
  BaseHandler,
  type CopyStats,
  type HandlerArgs,
  type HandlerSpec,
} from '../handler.ts';

export const qtableHandlerSpec: HandlerSpec = {
  name: 'qtable',
  summary:
    'Queue table handler. Do nothing. Trigger: before-insert, skip trigger. Event-processing: do nothing.',
  args: [],
  create: (tableName, args, destTable) => new QueueTableHandler(tableName, args, destTable),
};

export class QueueTableHandler extends BaseHandler {
  constructor(tableName: string, args: HandlerArgs, destTable?: string | null) {
    super(qtableHandlerSpec, tableName, args, destTable);
  }
  get name(): string {
    return 'qtable';
  }
  override triggerArgs(args: readonly string[]): string[] {
    return [...args, 'tgflags=BI', 'SKIP', 'expect_sync'];
  }
  override needsTable(): boolean {
    return false;
  }
  async realCopy(): Promise<CopyStats> {
    return { rows: 0, bytes: 0 };
  }
}

function virtualSpec(name: string, summary: string): HandlerSpec {
  const spec: HandlerSpec = {
    name,
    summary,
    args: [],
    create: (tableName, args, destTable) => new VirtualTableHandler(spec, tableName, args, destTable),
  };
  return spec;
}

export const vtableHandlerSpec = virtualSpec(
  'vtable',
  'Virtual Table handler. Hack to get local=t for a table, but without processing any events.',
);
export const fakeLocalHandlerSpec = virtualSpec('fake_local', 'Deprecated compat name for vtable.');

export class VirtualTableHandler extends BaseHandler {
  readonly #name: string;
  constructor(spec: HandlerSpec, tableName: string, args: HandlerArgs, destTable?: string | null) {
    super(spec, tableName, args, destTable);
    this.#name = spec.name;
  }
  get name(): string {
    return this.#name;
  }
  override triggerArgs(args: readonly string[]): string[] {
    return [...args, 'virtual_table'];
  }
  override needsTable(): boolean {
    return false;
  }
  async realCopy(): Promise<CopyStats> {
    return { rows: 0, bytes: 0 };
  }
}

export const qsplitterHandlerSpec: HandlerSpec = {
  name: 'qsplitter',
  summary: 'Send events for one table to another queue.',
  args: [{ name: 'queue', usage: 'queue=QUEUE', help: 'Queue name.' }],
  create: (tableName, args, destTable) => new QueueSplitterHandler(tableName, args, destTable),
};

export class QueueSplitterHandler extends BaseHandler {
  readonly queue: string;
  private rows: PgqEvent[] = [];

  constructor(tableName: string, args: HandlerArgs, destTable?: string | null) {
    super(qsplitterHandlerSpec, tableName, args, destTable);
    if (!args.queue)
      throw new LondisteError('usage', `handler qsplitter for ${tableName}: specify queue with handler-arg`);
    this.queue = args.queue;
  }
  get name(): string {
    return 'qsplitter';
  }
  override triggerArgs(args: readonly string[]): string[] {
    return [...args, 'virtual_table'];
  }
  override needsTable(): boolean {
    return false;
  }
  override async prepareBatch(_ctx: ApplyContext): Promise<void> {
    this.rows = [];
  }
  override async processEvent(ev: PgqEvent, _ctx: ApplyContext): Promise<void> {
    this.rows.push(ev);
  }
  /** TRUNCATE events go to the other queue as well: its consumers see what the table saw. */
  override async truncate(ev: PgqEvent, _ctx: ApplyContext): Promise<void> {
    this.rows.push(ev);
  }
  override async flush(ctx: ApplyContext): Promise<void> {
    if (this.rows.length === 0) return;
    const rows = this.rows;
    this.rows = [];
    await ctx.applier.settle();
    // New ids in the other queue, the event's own time (as the original's bulk_insert_events).
    await requeueEvents(ctx.local, this.queue, rows);
  }
  override reset(): void {
    this.rows = [];
  }
  async realCopy(): Promise<CopyStats> {
    return { rows: 0, bytes: 0 };
  }
}
