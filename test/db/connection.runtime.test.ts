// The one way to reach PostgreSQL (layers/db): int8 arrives as bigint without touching the global
// pg.types; a connection the server drops — idle in the pool, checked out, or dedicated — fails
// the next query instead of crashing the process; released clients leave no listener behind;
// withClient discards a connection whose work failed, withTransaction rolls back.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { checkout, connectClient, createPool, toBigInt } from '../../layers/db/connection.ts';
import { withClient, withTransaction } from '../../layers/db/transaction.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const pools: pg.Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

function pool(max = 2, onIdleError?: (err: Error) => void) {
  const p = createPool({ connectionString: db.url, max, applicationName: 'db-test', onIdleError });
  pools.push(p);
  return p;
}

const kill = (pid: number) => db.query('select pg_terminate_backend($1)', [pid]);
const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('layers/db', () => {
  it('parses int8 to bigint per pool and per client, leaving the global parsers alone', async () => {
    const p = pool();
    const big = '9007199254740993'; // 2^53 + 1: a number would round it
    expect((await p.query(`select ${big}::int8 as v`)).rows[0].v).toBe(9007199254740993n);
    const c = await connectClient({ connectionString: db.url });
    try {
      expect((await c.query(`select ${big}::int8 as v`)).rows[0].v).toBe(9007199254740993n);
    } finally {
      await c.end();
    }
    expect(pg.types.getTypeParser(20, 'text')('5')).toBe('5');
    expect(toBigInt('12')).toBe(12n);
    expect(toBigInt(12n)).toBe(12n);
  });

  it('a checked-out client whose connection dies fails its next query; release removes the listener', async () => {
    const p = pool();
    const c = await checkout(p);
    const ours = c.listeners('error'); // pg removed the pool's own listener at checkout
    expect(ours.length).toBeGreaterThan(0);
    const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const died = new Promise((r) => c.once('error', r));
    await kill(pid);
    await died; // no uncaught 'error': the process is still here
    await expect(c.query('select 1')).rejects.toThrow();
    c.release(new Error('dead'));
    expect(c.listeners('error').filter((l) => ours.includes(l))).toEqual([]);
    // the pool hands out a working connection again
    expect((await p.query('select 1 as one')).rows[0].one).toBe(1);
  });

  it('an idle pooled connection that dies goes to onIdleError and is replaced', async () => {
    const idleErrors: string[] = [];
    const p = pool(1, (err) => idleErrors.push(err.message));
    const pid = (await p.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    await kill(pid);
    await until(() => idleErrors.length > 0);
    expect(idleErrors).toHaveLength(1);
    const again = (await p.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    expect(again).not.toBe(pid);
  });

  it('a dedicated client whose connection dies fails its next query', async () => {
    const c = await connectClient({ connectionString: db.url });
    const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const died = new Promise((r) => c.once('error', r));
    await kill(pid);
    await died;
    await expect(c.query('select 1')).rejects.toThrow();
    await c.end().catch(() => {});
  });

  it('withClient discards the connection after an error, withTransaction rolls back', async () => {
    const p = pool(1);
    await p.query('create table if not exists wt (v int)');
    const pidOf = (c: pg.ClientBase) => c.query('select pg_backend_pid() as pid').then((r) => r.rows[0].pid);
    let failedPid = 0;
    await expect(
      withClient(p, async (c) => {
        failedPid = await pidOf(c);
        throw new Error('work failed');
      }),
    ).rejects.toThrow('work failed');
    expect(await withClient(p, pidOf)).not.toBe(failedPid);
    await expect(
      withTransaction(p, async (c) => {
        await c.query('insert into wt values (1)');
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    await withTransaction(p, (c) => c.query('insert into wt values (2)'));
    expect((await p.query('select v from wt order by v')).rows).toEqual([{ v: 2 }]);
  });
});
