// The admin's command table: every `skytools setadm <ini> <command>` (names, help line, what it
// runs) and the options they share, declared once. The CLI registers the table on
// commander and dispatches through it; an admin built on the cascade (Londiste's) extends it with
// `extendCommands(CascadeAdmin.commands, [...])` and inherits every cascade command.
import type { Logger } from '../util/log.ts';
import { claimPidfile } from '../util/pidfile.ts';
import type { CascadeAdmin, CascadeAdminOptions } from './admin.ts';
import { formatMembers, formatStatus, statusJson } from './admin-status.ts';
import { CascadeError, connectLocation, type NodeType } from './node.ts';
import type { CascadeConfig } from './settings.ts';

/** A command-line option shared by the table's commands (commander `.option` arguments). */
export interface AdminOption {
  flags: string;
  description: string;
  default?: string;
  /** Repeatable: every occurrence is collected into a list. */
  repeatable?: boolean;
}

/** The parsed options (commander's camelCase keys); tables that add options read their own keys. */
export interface AdminFlags {
  provider?: string;
  node?: string;
  consumer?: string;
  worker?: string;
  dead?: string[];
  deadRoot?: boolean;
  deadBranch?: boolean;
  all?: boolean;
  syncWatermark?: string;
  combinedQueue?: string;
  /** `--merge QUEUE` (the original's create-leaf option); `--no-merge` (Londiste add-table): false. */
  merge?: string | boolean;
  nocheck?: boolean;
  json?: boolean;
  dumpFile?: string;
  timeout?: string;
  section?: string;
  verbose?: boolean;
  quiet?: boolean;
  [extra: string]: unknown;
}

/** One run of a command: what the command line and the .ini gave it, and where it prints. */
export interface AdminCall {
  /** The name it was called by (one entry may serve several, e.g. pause | resume). */
  command: string;
  args: string[];
  flags: AdminFlags;
  cfg: CascadeConfig;
  log: Logger;
  /** Prints text and a newline on stdout. */
  out(text: string): void;
}

export interface AdminCommand<A extends CascadeAdmin = CascadeAdmin> {
  names: readonly string[];
  /** Heading the help line is listed under. */
  group: string;
  /** The line in the command list of --help, names included. */
  help: string;
  run(admin: A, call: AdminCall): Promise<void>;
}

/** What the CLI needs from an admin class: how to make one and its tables. */
export interface AdminClass<A extends CascadeAdmin = CascadeAdmin> {
  new (opts: CascadeAdminOptions): A;
  readonly commands: readonly AdminCommand<A>[];
  readonly options: readonly AdminOption[];
}

/** The base table with `extra` added; an entry with a name already there replaces that entry. */
export function extendCommands<A extends CascadeAdmin>(
  base: readonly AdminCommand<A>[],
  extra: readonly AdminCommand<A>[],
): AdminCommand<A>[] {
  const out = [...base];
  for (const e of extra) {
    const i = out.findIndex((c) => c.names.some((n) => e.names.includes(n)));
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

export function findCommand<A extends CascadeAdmin>(
  table: readonly AdminCommand<A>[],
  name: string,
): AdminCommand<A> | undefined {
  return table.find((c) => c.names.includes(name));
}

/** The command list of --help: the help lines under their group headings, in table order. */
export function commandsHelp(table: readonly AdminCommand<CascadeAdmin>[]): string {
  const groups = new Map<string, string[]>();
  for (const c of table) {
    const lines = groups.get(c.group) ?? [];
    lines.push(`  ${c.help}`);
    groups.set(c.group, lines);
  }
  return `\n${[...groups].map(([g, lines]) => `${g}:\n${lines.join('\n')}`).join('\n')}\n`;
}

export const CASCADE_OPTIONS: readonly AdminOption[] = [
  {
    flags: '--provider <connstr|node>',
    description: 'create-*: provider connect string; change-provider: new provider node',
  },
  { flags: '--node <name>', description: 'node to operate on' },
  { flags: '--consumer <name>', description: 'consumer to operate on' },
  { flags: '--worker <name>', description: 'create-*: worker name (default: job_name)' },
  { flags: '--dead <node>', description: 'treat NODE as dead (repeatable)', repeatable: true },
  { flags: '--dead-root', description: 'takeover: the old node is a dead root (failover)' },
  { flags: '--dead-branch', description: 'takeover: the old node is a dead branch (failover)' },
  { flags: '--all', description: 'takeover: move all subscribers of the old node too' },
  { flags: '--sync-watermark <nodes>', description: 'create-branch: nodes to sync the watermark with' },
  {
    flags: '--combined-queue <queue>',
    description: "create-leaf: a merge-leaf; its events go on into QUEUE (this database's root of it)",
  },
  { flags: '--merge <queue>', description: 'create-leaf: as --combined-queue (the original spelling)' },
  {
    flags: '--nocheck',
    description: 'create-*: accepted for compatibility (no public connect string check)',
  },
  { flags: '--json', description: 'status/members: print JSON' },
  {
    flags: '--dump-file <file>',
    description: 'resurrect: where to write lost events',
    default: 'resurrect-lost-events.json',
  },
  {
    flags: '--timeout <seconds>',
    description: 'how long to wait for workers (pause, catch-up)',
    default: '600',
  },
  {
    flags: '--section <name>',
    description: 'ini section of the job (default: [setadm], [cascade] or the first one)',
  },
  { flags: '-v, --verbose', description: 'debug logging' },
  { flags: '-q, --quiet', description: 'warnings and errors only' },
];

function createCommand(type: NodeType, help: string): AdminCommand {
  return {
    names: [`create-${type}`],
    group: 'Node initialization',
    help,
    async run(admin, { args, cfg, flags, out }) {
      if (args.length > 2)
        throw new CascadeError('usage', 'too many arguments: only NAME and PUBLIC_CONNSTR');
      const combinedQueue =
        flags.combinedQueue ?? (typeof flags.merge === 'string' ? flags.merge : undefined);
      if (combinedQueue && type !== 'leaf')
        throw new CascadeError('usage', '--combined-queue (--merge) is for create-leaf only');
      out(
        await admin.createNode(type, {
          nodeName: args[0] ?? cfg.nodeName ?? '',
          location: args[1] ?? cfg.publicLocation ?? cfg.db,
          worker: flags.worker ?? cfg.worker,
          provider: flags.provider ?? cfg.initialProvider,
          syncWatermark: flags.syncWatermark,
          ...(combinedQueue ? { combinedQueue } : {}),
        }),
      );
    },
  };
}

export const CASCADE_COMMANDS: readonly AdminCommand[] = [
  createCommand('root', 'create-root   [NAME [PUBLIC_CONNSTR]]'),
  createCommand('branch', 'create-branch [NAME [PUBLIC_CONNSTR]] --provider=<connstr>'),
  createCommand('leaf', 'create-leaf   [NAME [PUBLIC_CONNSTR]] --provider=<connstr> [--combined-queue=Q]'),
  {
    names: ['worker'],
    group: 'Node administration',
    help: "worker                run this node's cascade worker (until SIGINT/SIGTERM)",
    run: (_admin, { cfg, log }) => runWorkerUntilSignal(cfg, log),
  },
  {
    names: ['status'],
    group: 'Node administration',
    help: 'status                tree of the cascade with lag per node (--json)',
    async run(admin, { cfg, flags, out }) {
      const st = await admin.status();
      out(flags.json ? statusJson(st) : formatStatus(st, cfg.queue));
    },
  },
  {
    names: ['members'],
    group: 'Node administration',
    help: 'members               member nodes with their locations (--json)',
    async run(admin, { cfg, flags, out }) {
      const ms = await admin.members();
      out(flags.json ? JSON.stringify(ms, null, 2) : formatMembers(ms, cfg.queue));
    },
  },
  {
    names: ['wait-root', 'wait-provider'],
    group: 'Node administration',
    help: "wait-root | wait-provider   until this node's worker has the root's / provider's current tick",
    async run(admin, { command, out }) {
      const r = await admin.waitFor(command === 'wait-root' ? 'root' : 'provider');
      out(`node ${r.local} reached tick ${r.tick} of ${r.node}`);
    },
  },
  {
    names: ['pause', 'resume'],
    group: 'Node administration',
    help: "pause | resume        [--node=NODE] [--consumer=NAME]   (default: the local node's worker)",
    run: (admin, { command, args, flags }) =>
      (command === 'pause' ? admin.pause : admin.resume).call(
        admin,
        flags.node ?? args[0],
        flags.consumer ?? args[1],
      ),
  },
  {
    names: ['change-provider'],
    group: 'Cascade layout',
    help: 'change-provider --provider=NODE [--node=NODE]',
    run: (admin, { flags }) => admin.changeProvider(flags.provider ?? '', flags.node, flags.consumer),
  },
  {
    names: ['takeover'],
    group: 'Cascade layout',
    help: 'takeover OLD_NODE [--all] [--dead-root | --dead-branch] [--dead=NODE ...]',
    async run(admin, { args, flags }) {
      if (!args[0]) throw new CascadeError('usage', 'takeover needs the old node: takeover OLD_NODE');
      await admin.takeover(args[0], {
        newNode: flags.node,
        deadRoot: flags.deadRoot,
        deadBranch: flags.deadBranch,
        all: flags.all,
      });
    },
  },
  {
    names: ['resurrect'],
    group: 'Cascade layout',
    help: 'resurrect             bring a failed-over old root back as a branch (run on the old root)',
    async run(admin, { flags, out }) {
      const r = await admin.resurrect({ dumpFile: flags.dumpFile });
      out(
        `resurrected at tick ${r.failoverTick}: ${r.dumped} lost events dumped, ${r.deleted} deleted; worker paused`,
      );
    },
  },
  {
    names: ['drop-node'],
    group: 'Cascade layout',
    help: 'drop-node NAME',
    async run(admin, { args }) {
      if (!args[0]) throw new CascadeError('usage', 'drop-node needs the node name');
      await admin.dropNode(args[0]);
    },
  },
  {
    names: ['tag-dead', 'tag-alive'],
    group: 'Cascade layout',
    help: 'tag-dead NODE ... | tag-alive NODE ...',
    async run(admin, { command, args }) {
      if (args.length === 0) throw new CascadeError('usage', `${command} needs node names`);
      await admin.tagDead(args, command === 'tag-dead');
    },
  },
];

/** This node's cascade worker until SIGINT/SIGTERM, with the .ini's pidfile while it runs. */
export async function runWorkerUntilSignal(cfg: CascadeConfig, log: Logger): Promise<void> {
  // A second worker for the same job is refused while the first lives (as pgqd's pidfile).
  const releasePidfile = cfg.pidfile ? claimPidfile(cfg.pidfile) : () => {};
  const stop = new AbortController();
  const onStop = () => {
    log.info('stopping');
    stop.abort();
  };
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  try {
    // Loaded here: every other admin command (and --help) runs without the worker's modules.
    const { CascadeWorker } = await import('./worker.ts');
    await new CascadeWorker({
      queue: cfg.queue,
      worker: cfg.worker,
      connectLocal: () => connectLocation(cfg.db, { applicationName: `skytools cascade ${cfg.worker}` }),
      loopDelayMs: cfg.loopDelayMs,
      localWmPublishPeriodMs: cfg.localWmPublishPeriodMs,
      globalWmPublishPeriodMs: cfg.globalWmPublishPeriodMs,
      signal: stop.signal,
      log,
    }).run();
  } finally {
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    releasePidfile();
  }
}
