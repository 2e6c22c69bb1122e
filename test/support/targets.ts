// Runtime suites run against two targets: our SQL (embedded PostgreSQL, or DATABASE_URL) and the
// original C extension (Debian's postgresql-15-pgq3, when reachable). Each target hands out a fresh
// database per test file.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { typeParsers } from '../../layers/db/connection.ts';
import { adminQuery, probeCompat, urlFor } from './compat.ts';
import { createDatabase } from './db.ts';

export interface Target {
  name: 'ours' | 'c-extension';
  url: string;
  pool: pg.Pool;
  connect(): Promise<pg.Client>;
}

const compat = await probeCompat();
export const targetNames: Target['name'][] = compat.ok ? ['ours', 'c-extension'] : ['ours'];
if (!compat.ok) console.warn(`runtime suites run on our SQL only: ${compat.reason}`);

export function useTarget(name: Target['name']): Target {
  const t = {} as Target & { drop(): Promise<void> };
  beforeAll(async () => {
    if (name === 'ours') {
      const db = await createDatabase();
      Object.assign(t, { name, url: db.url, pool: db.pool, connect: db.connect, drop: db.drop });
      return;
    }
    const dbName = `rt_c_${randomBytes(5).toString('hex')}`;
    await adminQuery(`create database ${dbName}`);
    const url = urlFor(dbName);
    const pool = new pg.Pool({ connectionString: url, types: typeParsers, max: 6 });
    pool.on('error', () => {});
    await pool.query('create extension pgq');
    const extra: pg.Client[] = [];
    Object.assign(t, {
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
      async drop() {
        await Promise.all(extra.map((c) => c.end().catch(() => {})));
        await pool.end();
        await adminQuery(`drop database if exists ${dbName} with (force)`);
      },
    });
  });
  afterAll(async () => {
    await t.drop?.();
  });
  return t;
}
