// Londiste's setup, built on the cascade admin as the original's LondisteSetup is built on
// CascadeAdmin: every cascade command (create-root/branch/leaf, status, takeover, …) plus the
// table and sequence commands. What Londiste adds to a new node (extraInit) is the provider's
// set — its tables and sequences registered as known but not local — and to `status`
// (extraStatus) each node's tables with their states and copy progress. The commands themselves
// live in the modules below, by concern:
//   admin-tables.ts   add-table, remove-table, change-handler, resync
//   admin-seqs.ts     add-seq, remove-seq
//   admin-show.ts     tables, seqs, missing
//   admin-sync.ts     wait-sync
//   admin-execute.ts  execute (attributes: admin-exec-attrs.ts)
//   admin-status.ts   the status lines
//   compare/         compare, repair
//   admin-commands.ts the command table and options of `skytools londiste`
// Each command's module is imported when the command runs: `--help`, `status` or `compare` do
// not load the handlers, the DDL builder or the copy pipe they do not use.
import type pg from 'pg';
import { CascadeAdmin, type CascadeAdminOptions } from '../cascade/admin.ts';
import type { NodeStatus } from '../cascade/admin-status.ts';
import type { NodeInfo, NodeType } from '../cascade/node.ts';
import { workerWakeChannel } from '../pgq/tick-notify.ts';
import { LONDISTE_COMMANDS, LONDISTE_OPTIONS } from './admin-commands.ts';
import {
  DEFAULT_ADMIN_CONFIG,
  type LondisteAdminConfig,
  type LondisteContext,
  registers,
} from './admin-context.ts';
import { localTables, missingRows, seqRows } from './admin-show.ts';
import type { CommandResult, TableFlags } from './admin-tables.ts';
import { getSeqList, getTableList, globalAddTable, globalUpdateSeq } from './tables.ts';

export interface LondisteAdminOptions extends CascadeAdminOptions {
  config?: Partial<LondisteAdminConfig>;
}

export class LondisteAdmin extends CascadeAdmin {
  static override readonly commands = LONDISTE_COMMANDS;
  static override readonly options = LONDISTE_OPTIONS;

  #cfg: LondisteAdminConfig;

  constructor(opts: LondisteAdminOptions) {
    super(opts);
    this.#cfg = { ...DEFAULT_ADMIN_CONFIG, ...opts.config };
  }

  /** The [londiste] settings the commands read (register_* filters, lock_timeout). */
  configure(cfg: Partial<LondisteAdminConfig>): void {
    this.#cfg = { ...this.#cfg, ...cfg };
  }

  get config(): Readonly<LondisteAdminConfig> {
    return this.#cfg;
  }

  #ctx(): LondisteContext {
    return { s: this.session, cfg: this.#cfg };
  }

  // ---- hooks --------------------------------------------------------------------------------

  /** The provider's tables and sequences become known here (not local), as the original's extra_init. */
  protected override async extraInit(_type: NodeType, node: pg.Client, provider: pg.Client | null) {
    if (!provider) return;
    const c = this.#cfg;
    for (const t of await getTableList(provider, this.queue)) {
      if (registers(c.registerOnlyTables, c.registerSkipTables, t.tableName))
        await globalAddTable(node, this.queue, t.tableName);
    }
    for (const x of await getSeqList(provider, this.queue)) {
      if (registers(c.registerOnlySeqs, c.registerSkipSeqs, x.seqName))
        await globalUpdateSeq(node, this.queue, x.seqName, x.lastValue);
    }
  }

  protected override async extraStatus(st: NodeStatus, node: pg.Client, info: NodeInfo) {
    const { tableStatus } = await import('./admin-status.ts');
    await tableStatus(this.session, st, node, info);
  }

  // ---- commands -------------------------------------------------------------------------------

  /**
   * Wakes this node's worker for the queue (workerWakeChannel): a table or sequence command
   * changes what it does with no tick to announce it, so it would see the change only after
   * its loop delay (half a second of every add-table went there).
   */
  async #wakeWorker(res: CommandResult): Promise<CommandResult> {
    await (await this.session.local()).query('select pg_notify($1, $2)', [
      workerWakeChannel(this.queue),
      'tables',
    ]);
    return res;
  }

  async addTables(args: readonly string[], flags: TableFlags = {}): Promise<CommandResult> {
    const { addTables } = await import('./admin-tables.ts');
    return this.#wakeWorker(await addTables(this.#ctx(), args, flags));
  }

  async removeTables(args: readonly string[], flags: { all?: boolean } = {}): Promise<CommandResult> {
    const { removeTables } = await import('./admin-tables.ts');
    return this.#wakeWorker(await removeTables(this.#ctx(), args, flags));
  }

  async changeHandler(table: string | undefined, flags: TableFlags = {}): Promise<CommandResult> {
    const { changeHandler } = await import('./admin-tables.ts');
    return this.#wakeWorker(await changeHandler(this.#ctx(), table, flags));
  }

  async resync(args: readonly string[], flags: TableFlags = {}): Promise<CommandResult> {
    const { resyncTables } = await import('./admin-tables.ts');
    return this.#wakeWorker(await resyncTables(this.#ctx(), args, flags));
  }

  async addSeqs(args: readonly string[], flags: TableFlags = {}): Promise<CommandResult> {
    const { addSeqs } = await import('./admin-seqs.ts');
    return this.#wakeWorker(await addSeqs(this.#ctx(), args, flags));
  }

  async removeSeqs(args: readonly string[], flags: { all?: boolean } = {}): Promise<CommandResult> {
    const { removeSeqs } = await import('./admin-seqs.ts');
    return this.#wakeWorker(await removeSeqs(this.#ctx(), args, flags));
  }

  async tables() {
    await this.session.loadLocal();
    return localTables(await this.session.local(), this.queue);
  }

  async seqs() {
    await this.session.loadLocal();
    return seqRows(await this.session.local(), this.queue);
  }

  async missing() {
    await this.session.loadLocal();
    return missingRows(await this.session.local(), this.queue);
  }

  async waitSync() {
    const { waitSync } = await import('./admin-sync.ts');
    return waitSync(this.#ctx());
  }

  async execute(files: readonly string[]): Promise<CommandResult> {
    const { executeFiles } = await import('./admin-execute.ts');
    return executeFiles(this.#ctx(), files);
  }

  /** compare and repair (compare/command.ts) run on the session with the [londiste] settings. */
  compareContext(): LondisteContext {
    return this.#ctx();
  }
}
