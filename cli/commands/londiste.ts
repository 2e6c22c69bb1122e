// `skytools londiste <config.ini> <command>`: Londiste setup and status, like the original
// `londiste3 <config.ini> <command>`. The commands and options are the Londiste admin's table
// (layers/londiste/admin-commands.ts, built on setadm's), the job section is [londiste]
// (layers/londiste/settings.ts), registered the way setadm registers the cascade admin.
import type { Command } from 'commander';
import { LondisteAdmin } from '../../layers/londiste/admin.ts';
import { loadLondisteConfig } from '../../layers/londiste/settings.ts';
import { registerAdminProgram } from './setadm.ts';

export function register(program: Command): void {
  registerAdminProgram(program, {
    name: 'londiste',
    description: 'Londiste table replication: setup, status and (soon) the replay worker, like londiste3',
    admin: LondisteAdmin,
    loadConfig: (file, section) => loadLondisteConfig(file, { section }),
  });
}
