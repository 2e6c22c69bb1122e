// The admin custom resource's `sql` action (Custom::PgqDatabaseSql, what a LondisteNode's
// databaseSql becomes): the declared statements run as the admin user in one transaction on
// Create, again on Update (safe to repeat), never undone on Delete; a failing statement fails the
// event naming it and leaves nothing of the others behind.
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseSource } from '../../layers/aws/database.ts';
import { loadSettings } from '../../layers/aws/settings.ts';
import { handleAdminEvent, MAINTENANCE_SETTINGS } from '../../layers/pgq/lambda/index.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase({ empty: true });
const owner = `sql_owner_${process.pid}`;

function cfn(type: 'Create' | 'Update' | 'Delete', statements: unknown): CloudFormationCustomResourceEvent {
  return {
    RequestType: type,
    ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:provider',
    ResponseURL: 'https://example.invalid/',
    StackId: 'stack',
    RequestId: 'req',
    LogicalResourceId: 'ExampleSql',
    ResourceType: 'Custom::PgqDatabaseSql',
    ResourceProperties: { ServiceToken: 'arn', Action: 'sql', Statements: statements },
    ...(type === 'Create'
      ? {}
      : { PhysicalResourceId: 'skytools-sql-ExampleSql', OldResourceProperties: {} }),
  } as unknown as CloudFormationCustomResourceEvent;
}

// As the example declares them: a group role, a table it owns, safe to run again.
const statements = [
  `do $$ begin create role ${owner}; exception when duplicate_object then null; end $$`,
  'create table if not exists public.example_orders (id bigint primary key, item text not null, qty int not null)',
  `alter table public.example_orders owner to ${owner}`,
];

afterAll(async () => {
  await db.query('drop table if exists public.example_orders');
  await db.query(`drop role if exists ${owner}`);
});

describe('admin custom resource: sql', () => {
  const source = () => new DatabaseSource(loadSettings(MAINTENANCE_SETTINGS, { DATABASE_URL: db.url }));

  it('Create runs the statements; Update runs them again without harm; Delete undoes nothing', async () => {
    const created = await handleAdminEvent(cfn('Create', statements), { db: source() });
    expect(created.PhysicalResourceId).toBe('skytools-sql-ExampleSql');
    const ownerOf = async () =>
      (
        await db.query(
          "select pg_get_userbyid(relowner) as o from pg_class where oid = 'public.example_orders'::regclass",
        )
      ).rows[0]?.o;
    expect(await ownerOf()).toBe(owner);
    await db.query("insert into public.example_orders values (1, 'tea', 2)");

    const more = [...statements, 'alter table public.example_orders add column if not exists note text'];
    await handleAdminEvent(cfn('Update', more), { db: source() });
    await handleAdminEvent(cfn('Update', JSON.stringify(more)), { db: source() });
    const cols = await db.query(
      "select column_name from information_schema.columns where table_name = 'example_orders' order by ordinal_position",
    );
    expect(cols.rows.map((r) => r.column_name)).toEqual(['id', 'item', 'qty', 'note']);
    expect((await db.query('select count(*)::int as n from public.example_orders')).rows[0].n).toBe(1);

    await handleAdminEvent(cfn('Delete', more), { db: source() });
    expect(await ownerOf()).toBe(owner);
  });

  it('a failing statement fails the event, names it, and leaves nothing of the others', async () => {
    await expect(
      handleAdminEvent(
        cfn('Update', ['create table public.half_done (id int)', 'select * from public.no_such_table']),
        { db: source() },
      ),
    ).rejects.toThrow(/sql: statement 2 failed: .*no_such_table/);
    expect((await db.query("select to_regclass('public.half_done') as t")).rows[0].t).toBeNull();
  });

  it('refuses Statements that are not a list of SQL strings; a Delete of them does not fail', async () => {
    for (const bad of [undefined, '', 'select 1', ['select 1', ''], [1]]) {
      await expect(handleAdminEvent(cfn('Create', bad), { db: source() })).rejects.toThrow(
        /Statements must be a list of non-empty SQL strings/,
      );
    }
    await expect(handleAdminEvent(cfn('Delete', 'select 1'), { db: source() })).resolves.toMatchObject({
      PhysicalResourceId: 'skytools-sql-ExampleSql',
    });
  });
});
