// The `skytools` command: one program for everything a person types. Each subcommand lives in
// cli/commands/<name>.ts and registers itself on the root program; command modules are loaded
// lazily so that e.g. `skytools walmgr archive` does not pay for the AWS SDK or pg when unused.
import type { Command } from 'commander';

export interface CommandModule {
  register(program: Command): void;
}

interface CommandEntry {
  summary: string;
  load: () => Promise<CommandModule>;
  /** Answers an invocation before any command is declared, when it can (true: done, exit 0). */
  fast?: (argv: readonly string[]) => Promise<boolean>;
}

const COMMANDS: Record<string, CommandEntry> = {
  dev: {
    summary: 'run the local stack: embedded PostgreSQL, PgQ, ticker, demo consumer, live status',
    load: () => import('./commands/dev.ts'),
  },
  pgqd: {
    summary: 'ticker daemon: ticks, retries and maintains PgQ queues (like the original pgqd)',
    load: () => import('./commands/pgqd.ts'),
  },
  qadmin: {
    summary: 'PgQ administration: create/drop/show/alter queues, (un)register consumers, install',
    load: () => import('./commands/qadmin.ts'),
  },
  install: {
    summary: 'install or upgrade the SQL schemas in a database',
    load: () => import('./commands/install.ts'),
  },
  setadm: {
    summary: 'cascaded queues (pgq_node): create nodes, status, switchover/failover, worker (alias: cascade)',
    load: () => import('./commands/setadm.ts'),
  },
  cascade: { summary: 'alias of setadm', load: () => import('./commands/setadm.ts') },
  londiste: {
    summary: 'table replication: create nodes, add/remove tables and sequences, status, execute',
    load: () => import('./commands/londiste.ts'),
  },
  walmgr: {
    summary: 'WAL archive, base backups and point-in-time restore to S3 or a directory',
    load: () => import('./commands/walmgr.ts'),
    // archive_command for a segment an earlier call already stored: only node:fs and the spool.
    fast: async (argv) => (await import('../layers/walmgr/command/archive-marker.ts')).archivedByMarker(argv),
  },
};

/** Lets command modules add themselves to the table above without editing each other. */
export function commandTable() {
  return COMMANDS;
}

export async function main(argv: string[]): Promise<number> {
  const name = argv[2];
  const entry = name ? COMMANDS[name] : undefined;
  if (entry?.fast && (await entry.fast(argv))) return 0;
  // Loaded after the fast path, which therefore needs no argument parser.
  const { Command: Program, CommanderError } = await import('commander');
  const program = new Program('skytools')
    .description('PgQ, Londiste and walmgr for PostgreSQL, serverless on AWS')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError()
    .exitOverride();
  // Which command runs (e.g. "walmgr archive") and its operands: the exit policy depends on it.
  // Until commander names it (preAction), a guess from the words typed: an error while loading
  // `walmgr restore-wal` must still exit as restore-wal does.
  const typed = argv.slice(2, 4).filter((w) => w && !w.startsWith('-'));
  let running = { command: typed.join(' '), operands: [] as readonly string[] };
  program.hook('preAction', (_root, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c && c !== program; c = c.parent) names.unshift(c.name());
    running = { command: names.join(' '), operands: action.args };
  });
  try {
    if (entry) {
      (await entry.load()).register(program);
    } else {
      for (const [cmd, { summary }] of Object.entries(COMMANDS)) {
        program.command(cmd).description(summary);
      }
    }
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode;
    }
    // Loaded only on failure: the archive fast path pays nothing for it.
    const { reportError } = await import('../layers/errors/exit.ts');
    return reportError(err, running);
  }
}
