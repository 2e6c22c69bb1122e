// The bulk handler over events our logutriga and jsontriga really produce: each method ends with
// the rows bulk.py's method gives (0: updates of missing rows change nothing; 1 and 2: they
// insert; 2: an insert of an existing key replaces it), in a few statements through the temp
// table; SQL events refused; TRUNCATE and ignore_truncate; a key-only table.
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { SetApplier } from '../../layers/londiste/apply/applier.ts';
import type { TableHandler } from '../../layers/londiste/handler.ts';
import { buildHandler } from '../../layers/londiste/handlers/index.ts';
import { useTestDatabase } from '../support/db.ts';
import { applyBatch, setupQueue, tableText, takeBatch } from './fixtures/trigger-events.ts';

const db = useTestDatabase();
const Q = 'bq';
const C = 'bulk_test';
let client: pg.Client;

beforeAll(async () => {
  await setupQueue(db, Q, C);
  await db.query('create schema src; create schema dst');
  client = await db.connect();
});

async function pair(name: string, ddl: string, trigger = `pgq.logutriga('${Q}')`): Promise<void> {
  await db.query(`create table src.${name} ${ddl}; create table dst.${name} ${ddl}`);
  await db.query(
    `create trigger t after insert or update or delete on src.${name} for each row execute procedure ${trigger}`,
  );
  await db.query(
    `create trigger tr after truncate on src.${name} for each statement execute procedure ${trigger}`,
  );
}

async function run(name: string, hstr: string): Promise<{ h: TableHandler; count: number }> {
  const events = await takeBatch(db, Q, C);
  const h = buildHandler(`src.${name}`, hstr, `dst.${name}`);
  await applyBatch(client, events, { handlers: new Map([[`src.${name}`, h]]), applier: new SetApplier() });
  return { h, count: events.length };
}

async function workload(name: string): Promise<void> {
  await db.query(`insert into src.${name} select g, 'v' || g, g from generate_series(11, 40) g`);
  await db.query(`update src.${name} set v = v || '+' where id % 3 = 0`);
  await db.query(`update src.${name} set n = -n where id % 3 = 0`); // two updates of one row
  await db.query(`delete from src.${name} where id % 5 = 0`);
  await db.query(`insert into src.${name} values (5, 'back', 55)`); // delete then insert
  await db.query(`insert into src.${name} values (100, 'brief', 1)`);
  await db.query(`delete from src.${name} where id = 100`); // born and gone in the batch
}

describe.each(['0', '1', '2'])('bulk method=%s', (method) => {
  it.each([
    ['logutriga', `pgq.logutriga('${Q}')`],
    ['jsontriga', `pgq.jsontriga('${Q}')`],
  ])('ends with the source rows (%s events)', async (kind, trigger) => {
    const name = `w${method}_${kind}`;
    await pair(name, '(id int primary key, v text, n int)', trigger);
    // rows the destination had before: replayed over
    await db.query(`insert into src.${name} select g, 'old', 0 from generate_series(1, 10) g`);
    await db.query(`insert into dst.${name} select * from src.${name}`);
    await takeBatch(db, Q, C);
    await workload(name);
    await run(name, `bulk(method=${method})`);
    const src = await tableText(db, `src.${name}`, 'id');
    expect(src.length).toBe(40 - 8 + 1);
    expect(await tableText(db, `dst.${name}`, 'id')).toEqual(src);
  });
});

describe('bulk method differences', () => {
  it('0 leaves an update of a missing row undone; 1 and 2 insert it', async () => {
    for (const method of ['0', '1', '2']) {
      const name = `miss${method}`;
      await pair(name, '(id int primary key, v text)');
      await db.query(`insert into src.${name} values (1, 'a'), (2, 'b')`);
      await takeBatch(db, Q, C); // the destination never got them
      await db.query(`update src.${name} set v = 'changed'`);
      await run(name, `bulk(method=${method})`);
      const rows = await tableText(db, `dst.${name}`, 'id');
      expect(rows).toEqual(method === '0' ? [] : ['(1,changed)', '(2,changed)']);
    }
  });

  it('0 and 1 stop on an insert of a key the destination has; 2 replaces the row', async () => {
    for (const method of ['0', '1', '2']) {
      const name = `dup${method}`;
      await pair(name, '(id int primary key, v text)');
      await db.query(`insert into dst.${name} values (1, 'there')`);
      await db.query(`insert into src.${name} values (1, 'new')`);
      const p = run(name, `bulk(method=${method})`);
      if (method === '2') {
        await p;
        expect(await tableText(db, `dst.${name}`, 'id')).toEqual(['(1,new)']);
      } else {
        await expect(p).rejects.toMatchObject({ kind: 'apply_failed', sqlState: '23505' });
        expect(await tableText(db, `dst.${name}`, 'id')).toEqual(['(1,there)']);
      }
    }
  });

  it('a table of key columns only: inserts and deletes, with every method', async () => {
    for (const method of ['0', '1', '2']) {
      const name = `ko${method}`;
      await pair(name, '(a int, b int, primary key (a, b))');
      await db.query(`insert into src.${name} values (1, 1), (1, 2), (2, 1), (3, 3)`);
      await db.query(`delete from src.${name} where a = 2`);
      await db.query(`delete from src.${name} where a = 3`);
      await db.query(`insert into src.${name} values (3, 3)`);
      await run(name, `bulk(method=${method})`);
      expect(await tableText(db, `dst.${name}`, 'a, b')).toEqual(['(1,1)', '(1,2)', '(3,3)']);
    }
  });
});

describe('bulk and other events', () => {
  it('refuses sqltriga events', async () => {
    await pair('sq', '(id int primary key, v text)', `pgq.sqltriga('${Q}')`);
    await db.query(`insert into src.sq values (1, 'a')`);
    await expect(run('sq', 'bulk')).rejects.toMatchObject({ kind: 'bad_event' });
  });

  it('TRUNCATE empties the destination; ignore_truncate=1 keeps it', async () => {
    for (const ignore of ['0', '1']) {
      const name = `tr${ignore}`;
      await pair(name, '(id int primary key, v text)');
      await db.query(`insert into dst.${name} values (7, 'kept?')`);
      await db.query(`insert into src.${name} values (1, 'a'), (2, 'b')`);
      await db.query(`truncate src.${name}`);
      await db.query(`insert into src.${name} values (3, 'c')`);
      await run(name, `bulk(ignore_truncate=${ignore})`);
      expect(await tableText(db, `dst.${name}`, 'id')).toEqual(
        ignore === '1' ? ['(1,a)', '(2,b)', '(3,c)', '(7,kept?)'] : ['(3,c)'],
      );
    }
  });

  it('refuses an unknown method', () => {
    expect(() => buildHandler('src.x', 'bulk(method=3)', 'dst.x')).toThrow(/method/);
  });
});
