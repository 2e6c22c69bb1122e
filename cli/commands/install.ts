// `skytools install`: installs or upgrades the SQL modules into a database, without psql.
import type { Command } from 'commander';
import { connectClient } from '../../layers/db/connection.ts';
import { install } from '../../layers/install/installer.ts';

export function register(program: Command): void {
  program
    .command('install')
    .description('install or upgrade PgQ (and the other SQL modules) in a database; safe to re-run')
    .option('--db <url>', 'postgres:// URL of the database (default: $DATABASE_URL or PG* variables)')
    .option('-q, --quiet', 'print nothing on success')
    .option('-v, --verbose', 'also list every SQL file applied')
    .action(async (opts: { db?: string; quiet?: boolean; verbose?: boolean }) => {
      const client = await connectClient({ connectionString: opts.db, applicationName: 'skytools install' });
      try {
        const res = await install(client, {
          onProgress: (file) => {
            if (opts.verbose) process.stderr.write(`  ${file}\n`);
          },
        });
        if (!opts.quiet) {
          // The server's own name for it: never echoes a connection string (and its password).
          const target = (await client.query<{ d: string }>('select current_database() as d')).rows[0]!.d;
          const what =
            res.outcome === 'installed'
              ? `installed PgQ ${res.pgqVersion}`
              : res.outcome === 'upgraded'
                ? `upgraded PgQ from ${res.previousVersion} to ${res.pgqVersion}`
                : `PgQ ${res.pgqVersion} already current (functions re-applied)`;
          process.stdout.write(`${what} in database ${target} (${res.files.length} files)\n`);
        }
      } finally {
        await client.end();
      }
    });
}
