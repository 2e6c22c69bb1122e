// `skytools install`: installs or upgrades the SQL modules into a database, without psql.
import type { Command } from 'commander';
import { connectClient, redactUrl } from '../../layers/db/connection.ts';
import { install } from '../../layers/install/installer.ts';

export function register(program: Command): void {
  program
    .command('install')
    .description('install or upgrade PgQ (and the other SQL modules) in a database; safe to re-run')
    .option('--db <url>', 'postgres:// URL of the database (default: $DATABASE_URL or PG* variables)')
    .option('-q, --quiet', 'print nothing on success')
    .action(async (opts: { db?: string; quiet?: boolean }) => {
      const client = await connectClient({ connectionString: opts.db, applicationName: 'skytools install' });
      try {
        const res = await install(client, {
          onProgress: (file) => {
            if (!opts.quiet) process.stderr.write(`  ${file}\n`);
          },
        });
        if (!opts.quiet) {
          const target = opts.db ? redactUrl(opts.db) : (process.env.PGDATABASE ?? 'default database');
          process.stdout.write(
            `installed PgQ ${res.pgqVersion} into ${target} (${res.files.length} files)\n`,
          );
        }
      } finally {
        await client.end();
      }
    });
}
