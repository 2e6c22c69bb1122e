// `skytools londiste <config.ini> <command>`: Londiste setup and status, like the original
// `londiste3 <config.ini> <command>`. The commands and options are the Londiste admin's table
// (layers/londiste/admin-commands.ts, built on setadm's), the job section is [londiste]
// (layers/londiste/settings.ts), registered the way setadm registers the cascade admin.
//
// In a container there is no config file: `skytools londiste worker` and `… copy <table>` then
// read the environment (LONDISTE_*, DB_SECRET_ARN; layers/londiste/settings.ts).
import type { Command } from 'commander';
import { LondisteAdmin } from '../../layers/londiste/admin.ts';
import { LondisteError } from '../../layers/londiste/errors.ts';
import { loadLondisteConfig } from '../../layers/londiste/settings.ts';
import { fqName } from '../../layers/londiste/tables.ts';
import { commandLogLevel, createLogger } from '../../layers/util/log.ts';
import { registerAdminProgram } from './setadm.ts';

export function register(program: Command): void {
  registerAdminProgram(program, {
    name: 'londiste',
    description:
      'Londiste table replication, like londiste3: setup, table copy, the replay worker, compare and repair',
    admin: LondisteAdmin,
    loadConfig: (file, section) => loadLondisteConfig(file, { section }),
    fromEnv: {
      commands: ['worker', 'copy'],
      async run(command, args, flags) {
        const log = createLogger({ level: commandLogLevel(flags) });
        if (command === 'copy' && args.length !== 1)
          throw new LondisteError('usage', 'copy needs exactly one table name: copy TBL');
        if (command === 'worker' && args.length)
          throw new LondisteError('usage', 'worker takes no arguments');
        const { runLondisteTask } = await import('../../layers/londiste/run-worker.ts');
        await runLondisteTask(log, { copyTable: command === 'copy' ? fqName(args[0]!) : undefined });
      },
    },
  });
}
