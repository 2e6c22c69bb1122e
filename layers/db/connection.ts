// Connection settings and pool creation. One pool per process; int8 is parsed to bigint per
// pool (never by mutating the global pg.types), so event ids and tick ids keep full precision.
import pg from 'pg';

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
  /** postgres:// URL; falls back to DATABASE_URL, then to libpq's PG* variables. */
  connectionString?: string;
  /** Shown in pg_stat_activity.application_name. */
  applicationName?: string;
  max?: number;
}

export function clientConfig(opts: ConnectOptions = {}): pg.ClientConfig {
  const connectionString = opts.connectionString ?? process.env.DATABASE_URL;
  return {
    ...(connectionString ? { connectionString } : {}),
    application_name: opts.applicationName ?? 'skytools',
    types: typeParsers,
  };
}

export function createPool(opts: ConnectOptions = {}): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(opts), max: opts.max ?? 4 });
  // An idle client that loses its connection emits 'error' on the pool; without a listener
  // that would crash the process.
  pool.on('error', (err) => {
    process.emitWarning(`idle PostgreSQL connection failed: ${err.message}`);
  });
  return pool;
}

export async function connectClient(opts: ConnectOptions = {}): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(opts));
  await client.connect();
  return client;
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
