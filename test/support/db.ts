// Per-test-file databases: a fresh clone of the installed template (or an empty database for
// installer tests), dropped when the file is done. Names are unique so files run in parallel.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { typeParsers } from '../../layers/db/connection.ts';
import { withDatabase } from './pg-server.ts';

export interface TestDb {
  name: string;
  url: string;
  pool: pg.Pool;
  /** Opens a new dedicated connection (for concurrency tests); closed at the end of the file. */
  connect(): Promise<pg.Client>;
  query<R extends pg.QueryResultRow = any>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** First row of a query (throws if none). */
  one<R extends pg.QueryResultRow = any>(sql: string, params?: unknown[]): Promise<R>;
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

export async function createDatabase(
  opts: { empty?: boolean } = {},
): Promise<TestDb & { drop(): Promise<void> }> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const template = opts.empty ? 'template0' : inject('pgTemplateDb');
  // CREATE DATABASE … TEMPLATE fails if another session is connected to the template at that
  // moment (another file cloning it at once); retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      await adminQuery(`create database ${name} template ${template}`);
      break;
    } catch (err) {
      if (attempt > 50 || !/being accessed by other users/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
  const url = withDatabase(inject('pgAdminUrl'), name);
  const pool = new pg.Pool({ connectionString: url, types: typeParsers, max: 6 });
  pool.on('error', () => {});
  const extra: pg.Client[] = [];
  return {
    name,
    url,
    pool,
    async connect() {
      const c = new pg.Client({ connectionString: url, types: typeParsers });
      c.on('error', () => {});
      await c.connect();
      extra.push(c);
      return c;
    },
    query: (sql, params) => pool.query(sql, params as unknown[]),
    async one(sql, params) {
      const r = await pool.query(sql, params as unknown[]);
      if (r.rows.length === 0) throw new Error(`query returned no rows: ${sql}`);
      return r.rows[0];
    },
    async drop() {
      await Promise.all(extra.map((c) => c.end().catch(() => {})));
      await pool.end();
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
  };
}

/** A fresh database for the current test file, with every module installed. */
export function useTestDatabase(opts: { empty?: boolean } = {}): TestDb {
  const holder = {} as TestDb & { drop(): Promise<void> };
  beforeAll(async () => {
    Object.assign(holder, await createDatabase(opts));
  });
  afterAll(async () => {
    await holder.drop?.();
  });
  return new Proxy(holder, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (value === undefined && prop !== 'then') {
        throw new Error(`test database used before beforeAll ran (property ${String(prop)})`);
      }
      return value;
    },
  });
}

/**
 * Runs `fn` on a new connection to `url`'s database as `role` (the password the tests give
 * their roles: 'pw'); the connection is closed after.
 */
export async function withRole<T>(url: string, role: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const u = new URL(url);
  u.username = role;
  u.password = 'pw';
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
