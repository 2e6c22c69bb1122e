// Scoped access to a pooled client: always released (discarded after an error, since the
// connection may be what failed), transactions always ended.
import type pg from 'pg';
import { checkout } from './connection.ts';

export type Queryable = Pick<pg.ClientBase, 'query'>;

export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await checkout(pool);
  let result: T;
  try {
    result = await fn(client);
  } catch (err) {
    client.release(err as Error);
    throw err;
  }
  client.release();
  return result;
}

/** Runs fn inside BEGIN/COMMIT on one connection; rolls back and rethrows on any error. */
export async function inTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    const result = await fn();
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  }
}

export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return withClient(pool, (client) => inTransaction(client, () => fn(client)));
}
