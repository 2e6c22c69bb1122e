// The `skytools londiste <config.ini> <command>` table: every cascade command (create-*, status,
// members, pause, takeover, …) inherited from setadm's table, plus the Londiste setup commands and
// options of the original londiste3. Every command first hands the [londiste] settings it needs
// (register_* filters, lock_timeout) to the admin. What a command runs is imported when it runs
// (the worker, the handlers, compare): `--help` and a `status` load none of it.
import { CascadeAdmin } from '../cascade/admin.ts';
import {
  type AdminCall,
  type AdminCommand,
  type AdminOption,
  CASCADE_OPTIONS,
  extendCommands,
} from '../cascade/admin-commands.ts';
import { formatStatus } from '../cascade/admin-status.ts';
import type { LondisteAdmin } from './admin.ts';
import type { LondisteAdminConfig } from './admin-context.ts';
import { formatMissing, formatSeqs, formatTables, toJson } from './admin-show.ts';
import type { CommandResult, TableFlags } from './admin-tables.ts';
import { LondisteError } from './errors.ts';
import type { LondisteConfig } from './settings.ts';
import { fqName } from './tables.ts';

const LONDISTE_OPTION_LIST: readonly AdminOption[] = [
  {
    flags: '--all',
    description: 'add-*/remove-*/resync: every table or sequence; takeover: all subscribers',
  },
  {
    flags: '--force',
    description:
      'add-table/add-seq: take names not available (with a warning); compare/repair: wait without a limit',
  },
  { flags: '--create', description: 'add-table/add-seq: create missing tables (columns + primary key)' },
  {
    flags: '--create-full',
    description: 'add-table: create missing tables with defaults, constraints (no fkeys) and indexes',
  },
  { flags: '--dest-table <name>', description: 'add-table: write the changes to this table instead' },
  { flags: '--expect-sync', description: 'add-table: the table is equal already, no copy (state ok)' },
  { flags: '--skip-truncate', description: 'add-table: keep the rows the table has before the copy' },
  { flags: '--trigger-flags <flags>', description: 'add-table: trigger flags (BAIUDLQJS)' },
  {
    flags: '--trigger-arg <arg>',
    description: 'add-table/change-handler: trigger argument (repeatable)',
    repeatable: true,
  },
  { flags: '--no-triggers', description: 'add-table: no triggers on the table (e.g. on a leaf)' },
  { flags: '--merge-all', description: 'add-table: merge the table from every source queue' },
  { flags: '--no-merge', description: 'add-table: take the table from this queue only' },
  { flags: '--handler <name>', description: 'add-table/change-handler: handler of the table' },
  {
    flags: '--handler-arg <key=value>',
    description: 'add-table/change-handler: handler argument (repeatable)',
    repeatable: true,
  },
  { flags: '--copy-node <node>', description: 'add-table/resync: copy from this node' },
  {
    flags: '--find-copy-node',
    description: 'add-table/resync: copy from the nearest node up that has the table',
  },
  { flags: '--max-parallel-copy <n>', description: 'add-table: parallel copy processes for the table' },
  {
    flags: '--skip-non-existing',
    description: 'add-table/add-seq: skip objects missing here or on the provider',
  },
  { flags: '--wait-sync', description: 'add-table: then wait as wait-sync does' },
  { flags: '--names-only', description: 'tables: only the names, one per line' },
  { flags: '--count-only', description: 'compare: only count rows, no checksum' },
  { flags: '--apply', description: 'repair: apply the fixes here (one transaction, as replica)' },
  {
    flags: '--repair-where <cond>',
    description: 'repair: only rows matching this condition (compare names it)',
  },
  { flags: '--output <file>', description: 'repair: write the fixes to this file (default: stdout)' },
  { flags: '-d, --daemon', description: 'accepted for compatibility: the worker runs in the foreground' },
];

/** The cascade's options with Londiste's; an option Londiste redefines replaces the cascade's. */
export const LONDISTE_OPTIONS: readonly AdminOption[] = [
  ...CASCADE_OPTIONS.filter((c) => !LONDISTE_OPTION_LIST.some((o) => o.flags === c.flags)),
  ...LONDISTE_OPTION_LIST,
];

/** The add-table flags as commander parsed them (`--no-x` arrives as `x: false`). */
export function tableFlags(f: AdminCall['flags']): TableFlags {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : undefined);
  const max = str(f.maxParallelCopy);
  if (max !== undefined && !/^\d+$/.test(max))
    throw new LondisteError(
      'usage',
      `--max-parallel-copy must be a positive integer, not ${JSON.stringify(max)}`,
    );
  return {
    all: f.all === true,
    force: f.force === true,
    create: f.create === true,
    createFull: f.createFull === true,
    destTable: str(f.destTable),
    expectSync: f.expectSync === true,
    skipTruncate: f.skipTruncate === true,
    triggerFlags: str(f.triggerFlags),
    triggerArgs: list(f.triggerArg),
    noTriggers: f.triggers === false,
    mergeAll: f.mergeAll === true,
    noMerge: f.merge === false,
    handler: str(f.handler),
    handlerArgs: list(f.handlerArg),
    copyNode: str(f.copyNode),
    findCopyNode: f.findCopyNode === true,
    maxParallelCopy: max === undefined ? undefined : Number(max),
    skipNonExisting: f.skipNonExisting === true,
  };
}

/** The admin's part of a loaded config (a plain cascade config has none of it: the defaults). */
export function adminConfig(cfg: AdminCall['cfg']): Partial<LondisteAdminConfig> {
  const l = cfg as Partial<LondisteConfig>;
  return {
    ...(l.registerOnlyTables ? { registerOnlyTables: l.registerOnlyTables } : {}),
    ...(l.registerSkipTables ? { registerSkipTables: l.registerSkipTables } : {}),
    ...(l.registerOnlySeqs ? { registerOnlySeqs: l.registerOnlySeqs } : {}),
    ...(l.registerSkipSeqs ? { registerSkipSeqs: l.registerSkipSeqs } : {}),
    ...(l.lockTimeoutMs !== undefined ? { lockTimeoutMs: l.lockTimeoutMs } : {}),
  };
}

function printResult(out: (s: string) => void, r: CommandResult): void {
  for (const n of r.notes) out(n);
}

type Cmd = AdminCommand<LondisteAdmin>;

const REPLICATION: Cmd[] = [
  {
    names: ['add-table'],
    group: 'Replication administration',
    help: 'add-table TBL ...     add tables (globs; --all) to this node; see the add-table options',
    async run(admin, { args, flags, out }) {
      printResult(out, await admin.addTables(args, tableFlags(flags)));
      if (flags.waitSync) {
        const r = await admin.waitSync();
        out(`all ${r.tables} table(s) in sync${r.tick != null ? ` at tick ${r.tick}` : ''}`);
      }
    },
  },
  {
    names: ['remove-table'],
    group: 'Replication administration',
    help: 'remove-table TBL ...  remove tables (globs; --all) from this node',
    async run(admin, { args, flags, out }) {
      printResult(out, await admin.removeTables(args, { all: flags.all === true }));
    },
  },
  {
    names: ['change-handler'],
    group: 'Replication administration',
    help: 'change-handler TBL    set the handler (--handler, --handler-arg; none: the default)',
    async run(admin, { args, flags, out }) {
      if (args.length > 1) throw new LondisteError('usage', 'change-handler takes one table');
      printResult(out, await admin.changeHandler(args[0], tableFlags(flags)));
    },
  },
  {
    names: ['add-seq'],
    group: 'Replication administration',
    help: 'add-seq SEQ ...       add sequences (globs; --all) to this node',
    async run(admin, { args, flags, out }) {
      const f = tableFlags(flags);
      printResult(out, await admin.addSeqs(args, f));
    },
  },
  {
    names: ['remove-seq'],
    group: 'Replication administration',
    help: 'remove-seq SEQ ...    remove sequences (globs; --all) from this node',
    async run(admin, { args, flags, out }) {
      printResult(out, await admin.removeSeqs(args, { all: flags.all === true }));
    },
  },
  {
    names: ['tables'],
    group: 'Replication administration',
    help: 'tables                tables on this node with their state (--names-only, --json)',
    async run(admin, { flags, out }) {
      const rows = await admin.tables();
      const text = flags.json ? toJson(rows) : formatTables(rows, flags.namesOnly === true);
      if (text) out(text);
    },
  },
  {
    names: ['seqs'],
    group: 'Replication administration',
    help: 'seqs                  sequences on this node (--json)',
    async run(admin, { flags, out }) {
      const rows = await admin.seqs();
      const text = flags.json ? toJson(rows) : formatSeqs(rows);
      if (text) out(text);
    },
  },
  {
    names: ['missing'],
    group: 'Replication administration',
    help: 'missing               objects not replicated here (root: not in the set) (--json)',
    async run(admin, { flags, out }) {
      const rows = await admin.missing();
      const text = flags.json ? toJson(rows) : formatMissing(rows);
      if (text) out(text);
    },
  },
  {
    names: ['resync'],
    group: 'Replication administration',
    help: 'resync TBL ...        copy tables again (globs; --all; --copy-node, --find-copy-node)',
    async run(admin, { args, flags, out }) {
      const f = tableFlags(flags);
      printResult(out, await admin.resync(args, f));
    },
  },
  {
    names: ['wait-sync'],
    group: 'Replication administration',
    help: "wait-sync             until every table is ok and replay has reached the provider's tick",
    async run(admin, { out }) {
      const r = await admin.waitSync();
      out(`all ${r.tables} table(s) in sync${r.tick != null ? ` at tick ${r.tick}` : ''}`);
    },
  },
  {
    names: ['execute'],
    group: 'Replication extra',
    help: 'execute FILE ...      run SQL files on the root and every node (once per file name)',
    async run(admin, { args, out }) {
      const r = await admin.execute(args);
      for (const n of r.notes) out(n);
    },
  },
  {
    names: ['compare'],
    group: 'Replication extra',
    help: 'compare [TBL ...]     count and checksum tables against the provider at one tick (exit: tables differing)',
    async run(admin, call) {
      const { runCompare } = await import('./compare/command.ts');
      await runCompare(admin.compareContext(), call);
    },
  },
  {
    names: ['repair'],
    group: 'Replication extra',
    help: 'repair [TBL ...]      statements that make tables equal to the provider (--apply, --output, --repair-where)',
    async run(admin, call) {
      const { runRepair } = await import('./compare/command.ts');
      await runRepair(admin.compareContext(), call);
    },
  },
  {
    names: ['show-handlers'],
    group: 'Replication extra',
    help: 'show-handlers [NAME ...]  the handlers (with NAME: their arguments)',
    async run(_admin, { args, out }) {
      const { formatHandlers } = await import('./handlers/index.ts');
      out(formatHandlers(args));
    },
  },
  {
    names: ['status'],
    group: 'Node administration',
    help: 'status                tree of the cascade with lag, table states and copy progress (--json)',
    async run(admin, { cfg, flags, out }) {
      const st = await admin.status();
      out(flags.json ? toJson(st) : formatStatus(st, cfg.queue));
    },
  },
  {
    names: ['worker'],
    group: 'Replication daemon',
    help: 'worker                replay events to this node and copy new tables (until SIGINT/SIGTERM)',
    async run(_admin, { cfg, log }) {
      const { runLondisteUntilSignal } = await import('./run-worker.ts');
      await runLondisteUntilSignal(cfg as LondisteConfig, log);
    },
  },
  {
    names: ['copy'],
    group: 'Internal commands',
    help: 'copy TBL              copy one table and hand it over (the worker starts these itself)',
    async run(_admin, { cfg, log, args }) {
      if (args.length !== 1) throw new LondisteError('usage', 'copy needs exactly one table name: copy TBL');
      const { runLondisteUntilSignal } = await import('./run-worker.ts');
      await runLondisteUntilSignal(cfg as LondisteConfig, log, { copyTable: fqName(args[0] as string) });
    },
  },
];

/** Each command gets the [londiste] settings it needs before it runs (handler_modules loaded). */
function configured(c: Cmd): Cmd {
  return {
    ...c,
    async run(admin, call) {
      admin.configure(adminConfig(call.cfg));
      const l = call.cfg as Partial<LondisteConfig>;
      if (l.londiste && l.configFile) {
        const { loadHandlerModules } = await import('./handlers/modules.ts');
        await loadHandlerModules({
          modules: l.handlerModules ?? [],
          values: { ...l.sectionValues, ...l.londiste },
          configFile: l.configFile,
          log: call.log,
        });
      }
      return c.run(admin, call);
    },
  };
}

export const LONDISTE_COMMANDS: readonly Cmd[] = extendCommands<LondisteAdmin>(
  CascadeAdmin.commands,
  REPLICATION,
).map(configured);
