// The one way to reach PostgreSQL: every pool and every dedicated client is built here, so the
// rules below hold everywhere instead of being repeated (and forgotten) at each call site:
// - int8 is parsed to bigint per pool / client (never by mutating the global pg.types), so event
//   ids and tick ids keep full precision;
// - a pool has an 'error' listener for idle connections, and every client handed out (dedicated,
//   or checked out of a pool by checkout() / withClient()) has one while it is in use: a
//   connection the server drops then fails the next query instead of crashing the process.
import pg from 'pg';
import { parseConnstr } from './connstr.ts';

const INT8_OID = 20;

/** Type parser set for every pool and client we create: int8 → bigint, rest as pg does. */
export const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') {
      return (value: string) => BigInt(value);
    }
    return pg.types.getTypeParser(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

export interface ConnectOptions {
  /**
   * postgres:// URL or libpq "key=value …" string. Without it (and without `config`) DATABASE_URL is used, then libpq's PG*
   * variables.
   */
  connectionString?: string;
  /** Connection settings built elsewhere (a parsed libpq string, a secret, a node location). */
  config?: pg.ClientConfig;
  /** Shown in pg_stat_activity.application_name (default "skytools"). */
  applicationName?: string;
}

export interface PoolOptions extends ConnectOptions {
  /** Most connections the pool opens (default 4). */
  max?: number;
  /** Close idle connections after this long; 0 keeps them (pg's default: 10 s). */
  idleTimeoutMillis?: number;
  /** An idle connection failed (default: a process warning). The pool replaces it on next use. */
  onIdleError?: (err: Error) => void;
}

export function clientConfig(opts: ConnectOptions = {}): pg.ClientConfig {
  const connectionString = opts.connectionString ?? (opts.config ? undefined : process.env.DATABASE_URL);
  return {
    ...opts.config,
    // Both forms the originals take: a postgres:// URL or a libpq "key=value" string.
    ...(connectionString ? parseConnstr(connectionString) : {}),
    application_name: opts.applicationName ?? opts.config?.application_name ?? 'skytools',
    types: typeParsers,
  };
}

export function createPool(opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    ...clientConfig(opts),
    max: opts.max ?? 4,
    ...(opts.idleTimeoutMillis == null ? {} : { idleTimeoutMillis: opts.idleTimeoutMillis }),
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener
  // that would crash the process.
  pool.on(
    'error',
    opts.onIdleError ?? ((err) => process.emitWarning(`idle PostgreSQL connection failed: ${err.message}`)),
  );
  return pool;
}

/**
 * A new dedicated connection (for what must own its session: advisory locks, LISTEN, a
 * consumer's own connection). Its errors surface through the next query; end() it when done.
 */
export async function connectClient(opts: ConnectOptions = {}): Promise<pg.Client> {
  const client = guardClient(new pg.Client(clientConfig(opts)));
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}

/**
 * Checks a client out of the pool with an 'error' listener for as long as it is out (pg removes
 * the pool's own listener from a checked-out client). release(err) discards the connection
 * instead of reusing it; either way the listener goes with the release.
 */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  client.on('error', surfaceLater);
  const release = client.release;
  client.release = (err?: Error | boolean) => {
    client.off('error', surfaceLater);
    return release.call(client, err);
  };
  return client;
}

/**
 * The 'error' listener of clients in use: a connection lost between queries (server restart,
 * network) is reported by the query that tries to use it, where the caller can retry.
 */
function surfaceLater(): void {}

/**
 * Gives a client from elsewhere (a caller's connect callback) the same listener; idempotent.
 * Loops that take such callbacks call it, so a callback that forgot cannot crash the process.
 */
export function guardClient<C extends pg.ClientBase>(client: C): C {
  if (!client.listeners('error').includes(surfaceLater)) client.on('error', surfaceLater);
  return client;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Whether an error means the connection is gone or cannot be made (server down, restarting,
 * shutting down, network), as opposed to a statement or handler failing on a live connection.
 * Loops reconnect quickly after the first and back off slowly after the second.
 */
export function isConnectionFailure(err: unknown, depth = 0): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  // Our domain errors wrap the pg error: look through the causes.
  if (e?.cause !== undefined && depth < 5 && isConnectionFailure(e.cause, depth + 1)) return true;
  const code = typeof e?.code === 'string' ? e.code : '';
  // 08xxx connection exceptions, 57P01-57P03 admin/crash shutdown and "starting up".
  if (CONNECTION_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
  const msg = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection error and is not queryable|timeout expired|Connection ended/i.test(
    msg,
  );
}

/** Redacts the password of a postgres:// URL for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

/** Column values PostgreSQL sends as int8 (bigint already) or as text/number (other types). */
export function toBigInt(v: unknown): bigint {
  return typeof v === 'bigint' ? v : BigInt(v as string | number);
}
