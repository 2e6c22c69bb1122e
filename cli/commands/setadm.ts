// `skytools setadm <config.ini> <command>` (alias `skytools cascade`): cascaded queue admin and
// worker, like the original setadm / CascadeAdmin + CascadedWorker. The commands and options are
// the admin's table (layers/cascade/admin-commands.ts); `registerAdminProgram` serves any admin
// built on the cascade (a Londiste admin registers its own program with its own class).
import { appendFileSync, existsSync } from 'node:fs';
import type { Command } from 'commander';
import { CascadeAdmin } from '../../layers/cascade/admin.ts';
import {
  type AdminClass,
  type AdminFlags,
  commandsHelp,
  findCommand,
} from '../../layers/cascade/admin-commands.ts';
import { CascadeError } from '../../layers/cascade/node.ts';
import { type CascadeConfig, loadCascadeConfig } from '../../layers/cascade/settings.ts';
import { commandLogLevel, createLogger } from '../../layers/util/log.ts';

export interface AdminProgram<A extends CascadeAdmin> {
  name: string;
  alias?: string;
  description: string;
  admin: AdminClass<A>;
  /** Reads the job section (default: the cascade job's [setadm] / [cascade]). */
  loadConfig?: (file: string, section?: string) => CascadeConfig;
  /**
   * Commands that also run without a config file, configured from the environment (a container):
   * `skytools <name> <command> [args...]` when no file of the command's name exists.
   */
  fromEnv?: {
    commands: readonly string[];
    run(command: string, args: string[], flags: AdminFlags): Promise<void>;
  };
}

export function register(program: Command): void {
  registerAdminProgram(program, {
    name: 'setadm',
    alias: 'cascade',
    description: 'cascaded queue (pgq_node) admin and worker, like the original setadm',
    admin: CascadeAdmin,
  });
}

/** `skytools <name> <config> <command> [args...]` with the admin class's options and commands. */
export function registerAdminProgram<A extends CascadeAdmin>(program: Command, p: AdminProgram<A>): void {
  const cmd = program.command(p.name);
  if (p.alias) cmd.alias(p.alias);
  cmd
    .description(p.description)
    .argument('<config>', 'job .ini with job_name, queue_name, db, node_name, …')
    .argument(p.fromEnv ? '[command]' : '<command>', 'see below')
    .argument('[args...]', 'command arguments');
  for (const o of p.admin.options) {
    if (o.repeatable) cmd.option(o.flags, o.description, (v: string, acc: string[] = []) => [...acc, v]);
    else cmd.option(o.flags, o.description, o.default);
  }
  cmd
    .addHelpText('after', commandsHelp(p.admin.commands))
    .action(async (file: string, command: string | undefined, args: string[], flags: AdminFlags) => {
      if (p.fromEnv?.commands.includes(file) && !existsSync(file)) {
        return p.fromEnv.run(file, command === undefined ? args : [command, ...args], flags);
      }
      if (command === undefined)
        throw new CascadeError('usage', `no command given; see skytools ${p.name} --help`);
      const cfg = (p.loadConfig ?? loadCascadeConfig)(file, flags.section);
      let log = createLogger({ level: commandLogLevel(flags) });
      if (cfg.logfile) {
        const lf = cfg.logfile;
        log = createLogger({
          // -q quiets the terminal only: the logfile keeps its lines
          level: commandLogLevel({ verbose: flags.verbose }),
          write: (l) => appendFileSync(lf, `${l}\n`),
        });
      }
      for (const w of cfg.warnings) log.warn(w);
      const entry = findCommand(p.admin.commands, command);
      const admin = new p.admin({
        queue: cfg.queue,
        localLocation: cfg.db,
        assumeDead: flags.dead,
        log,
        waitTimeoutMs: Number(flags.timeout ?? 600) * 1000,
      });
      const call = { command, args, flags, cfg, log, out: (s: string) => process.stdout.write(`${s}\n`) };
      // Errors go to the one printer and exit policy (cli/main.ts → layers/errors/exit.ts).
      try {
        if (!entry)
          throw new CascadeError('usage', `unknown command "${command}"; see skytools ${p.name} --help`);
        await entry.run(admin, call);
      } finally {
        await admin.close();
      }
    });
}
