// The LondisteNode custom resource against real databases (secrets from a Secrets Manager
// stand-in, the nodes' stored locations without passwords): Create makes the root and the leaf and
// adds their tables and sequences; the same event again changes nothing; Update adds a new table,
// changes a handler, keeps a table dropped from the list unless RemoveTablesOnDelete; Delete keeps
// everything unless RemoveTablesOnDelete, and never drops the node.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleNodeEvent } from '../../layers/londiste/node-resource.ts';
import { LONDISTE_TASK_SETTINGS } from '../../layers/londiste/settings.ts';
import { taskConnections } from '../../layers/londiste/task-connect.ts';
import {
  type AwsJsonServer,
  passwordlessLocation,
  rdsSecret,
  secretsHandlers,
  startAwsJsonServer,
} from '../support/aws-json.ts';
import { useLondisteSet } from './replication.ts';

const f = useLondisteSet(['root', 'leaf']);
const secrets = new Map<string, unknown>();
const arn = (n: string) => `arn:aws:secretsmanager:eu-west-1:111111111111:secret:${n}-AbCdEf`;
let aws: AwsJsonServer;
let sm: SecretsManagerClient;

beforeAll(async () => {
  aws = await startAwsJsonServer(secretsHandlers(secrets));
  sm = new SecretsManagerClient({
    endpoint: aws.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  secrets.set(arn('root'), rdsSecret(f.s.db('root').url));
  secrets.set(arn('leaf'), rdsSecret(f.s.db('leaf').url));
  for (const n of ['root', 'leaf']) {
    await f.s.db(n).query('create table public.orders (id int primary key, v text)');
    await f.s.db(n).query('create table public.items (id int primary key, v text)');
    await f.s.db(n).query('create table public.extra (id int primary key, v text)');
    await f.s.db(n).query('create sequence public.order_no');
  }
});
afterAll(async () => {
  sm?.destroy();
  await aws?.close();
});

type Req = 'Create' | 'Update' | 'Delete';

function event(type: Req, props: Record<string, unknown>, old?: Record<string, unknown>) {
  return {
    RequestType: type,
    PhysicalResourceId: type === 'Create' ? undefined : `lq/${props.Node}`,
    ResourceProperties: { ServiceToken: 'arn:x', ...props },
    ...(old ? { OldResourceProperties: { ServiceToken: 'arn:x', ...old } } : {}),
  } as unknown as CloudFormationCustomResourceEvent;
}

function send(node: 'root' | 'leaf', e: CloudFormationCustomResourceEvent) {
  const env = {
    DB_SECRET_ARN: arn(node),
    LONDISTE_PROVIDER_SECRET_ARN: node === 'leaf' ? arn('root') : undefined,
    DATABASE_SSL: 'disable',
  };
  return handleNodeEvent(e, {
    connections: taskConnections(LONDISTE_TASK_SETTINGS.load({ env }).values, { secrets: sm }),
  });
}

async function tables(node: string) {
  const r = await f.s
    .db(node)
    .query('select table_name, local, table_attrs from londiste.get_table_list($1) where local order by 1', [
      'lq',
    ]);
  return r.rows.map((x) => `${x.table_name}${x.table_attrs ? ` ${x.table_attrs}` : ''}`);
}

async function seqs(node: string) {
  const r = await f.s
    .db(node)
    .query('select seq_name from londiste.get_seq_list($1) where local order by 1', ['lq']);
  return r.rows.map((x) => x.seq_name);
}

const root = { Queue: 'lq', Node: 'root', NodeType: 'root', Worker: 'w_root' };
const leaf = () => ({
  Queue: 'lq',
  Node: 'leaf',
  NodeType: 'leaf',
  Worker: 'w_leaf',
  ProviderLocation: passwordlessLocation(f.s.db('root').url),
});

describe('LondisteNode custom resource', () => {
  it('Create makes the nodes with their tables and sequences; the same event again changes nothing', async () => {
    const rootProps = {
      ...root,
      Tables: [{ name: 'orders' }, { name: 'public.items' }],
      Sequences: ['order_no'],
    };
    expect(await send('root', event('Create', rootProps))).toMatchObject({
      PhysicalResourceId: 'lq/root',
      Data: { Queue: 'lq', Node: 'root', Worker: 'w_root' },
    });
    const leafProps = {
      ...leaf(),
      // As CloudFormation may pass them: lists as JSON text, flags as strings.
      Tables: JSON.stringify([
        { name: 'orders' },
        { name: 'items', handler: 'londiste', handlerArgs: { ignore_truncate: '1' } },
      ]),
      Sequences: ['public.order_no'],
      RemoveTablesOnDelete: 'false',
    };
    const created = await send('leaf', event('Create', leafProps));
    expect(created.PhysicalResourceId).toBe('lq/leaf');
    expect(created.Data?.Location).not.toMatch(/password/);
    const node = await f.s
      .db('leaf')
      .one('select node_type, node_name, worker_name from pgq_node.get_node_info($1)', ['lq']);
    expect(node).toEqual({ node_type: 'leaf', node_name: 'leaf', worker_name: 'w_leaf' });
    expect(await tables('root')).toEqual(['public.items', 'public.orders']);
    expect(await tables('leaf')).toEqual([
      'public.items handler=londiste%28ignore_truncate%3D1%29',
      'public.orders',
    ]);
    expect(await seqs('leaf')).toEqual(['public.order_no']);

    const before = await f.s.db('leaf').query('select * from londiste.table_info order by table_name');
    await send('root', event('Create', rootProps));
    await send('leaf', event('Create', leafProps));
    expect(
      (await f.s.db('leaf').query('select * from londiste.table_info order by table_name')).rows,
    ).toEqual(before.rows);
  });

  it('Update adds a new table, changes a handler, and keeps a dropped one unless RemoveTablesOnDelete', async () => {
    const oldRoot = {
      ...root,
      Tables: [{ name: 'orders' }, { name: 'public.items' }],
      Sequences: ['order_no'],
    };
    const newRoot = { ...oldRoot, Tables: [...oldRoot.Tables, { name: 'extra' }] };
    await send('root', event('Update', newRoot, oldRoot));
    expect(await tables('root')).toEqual(['public.extra', 'public.items', 'public.orders']);

    const oldLeaf = {
      ...leaf(),
      Tables: [
        { name: 'orders' },
        { name: 'items', handler: 'londiste', handlerArgs: { ignore_truncate: '1' } },
      ],
      Sequences: ['public.order_no'],
    };
    const newLeaf = {
      ...leaf(),
      Tables: [{ name: 'orders' }, { name: 'extra' }],
      Sequences: ['public.order_no'],
    };
    await send('leaf', event('Update', newLeaf, oldLeaf));
    // items left the list but stays: RemoveTablesOnDelete is off.
    expect(await tables('leaf')).toEqual([
      'public.extra',
      'public.items handler=londiste%28ignore_truncate%3D1%29',
      'public.orders',
    ]);

    const handlerChanged = { ...newLeaf, Tables: [...newLeaf.Tables, { name: 'items' }] };
    await send('leaf', event('Update', handlerChanged, newLeaf));
    expect(await tables('leaf')).toEqual(['public.extra', 'public.items', 'public.orders']);

    const removing = {
      ...leaf(),
      Tables: [{ name: 'orders' }, { name: 'extra' }],
      Sequences: [],
      RemoveTablesOnDelete: 'true',
    };
    await send('leaf', event('Update', removing, handlerChanged));
    expect(await tables('leaf')).toEqual(['public.extra', 'public.orders']);
    expect(await seqs('leaf')).toEqual([]);
  });

  it('Delete keeps tables unless RemoveTablesOnDelete, and never drops the node', async () => {
    const props = { ...leaf(), Tables: [{ name: 'orders' }, { name: 'extra' }], Sequences: [] };
    await send('leaf', event('Delete', { ...props, RemoveTablesOnDelete: 'false' }));
    expect(await tables('leaf')).toEqual(['public.extra', 'public.orders']);
    await send('leaf', event('Delete', { ...props, RemoveTablesOnDelete: 'true' }));
    expect(await tables('leaf')).toEqual([]);
    const node = await f.s.db('leaf').one('select node_type from pgq_node.get_node_info($1)', ['lq']);
    expect(node.node_type).toBe('leaf');
    // A Delete of what could never have been created does not fail.
    await expect(send('leaf', event('Delete', { Queue: '', Node: '' }))).resolves.toMatchObject({
      PhysicalResourceId: 'lq/',
    });
  });

  it("creates a missing leaf table from the provider's definition, owned by TableOwner; again, nothing; Delete keeps it", async () => {
    const owner = `lq_owner_${process.pid}`;
    const leafDb = f.s.db('leaf');
    await f.s
      .db('root')
      .query(
        "create table public.made (id int primary key, v text not null default 'x' check (v <> ''), n int unique)",
      );
    await f.s.db('root').query('create index made_v on public.made (v)');
    await f.s.db('root').query("insert into public.made values (1, 'a', 1)");
    await leafDb.query(`create role ${owner} nologin`);
    // What the example's databaseSql grants the owner: creating in the schema, nothing else.
    await leafDb.query(`grant create on schema public to ${owner}`);
    try {
      const rootProps = { ...root, Tables: [{ name: 'orders' }, { name: 'made' }], Sequences: [] };
      await send('root', event('Update', rootProps, { ...root, Tables: [{ name: 'orders' }] }));
      const leafProps = {
        ...leaf(),
        Tables: [{ name: 'orders' }, { name: 'made', create: 'true' }],
        Sequences: [],
        TableOwner: owner,
      };
      await send('leaf', event('Update', leafProps, { ...leaf(), Tables: [{ name: 'orders' }] }));
      const made = await leafDb.one(
        "select pg_get_userbyid(relowner) as owner from pg_class where oid = 'public.made'::regclass",
      );
      expect(made.owner).toBe(owner);
      const defs = await leafDb.query(
        `select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'public.made'::regclass order by 1`,
      );
      expect(defs.rows.map((r) => r.def)).toEqual([
        "CHECK ((v <> ''::text))",
        'PRIMARY KEY (id)',
        'UNIQUE (n)',
      ]);
      expect(
        (await leafDb.query("select 1 from pg_indexes where tablename = 'made' and indexname = 'made_v'"))
          .rows,
      ).toHaveLength(1);
      // Registered, empty until the worker copies it.
      expect(await tables('leaf')).toContain('public.made');
      expect((await leafDb.one('select count(*)::int as n from public.made')).n).toBe(0);

      const before = await leafDb.query('select * from londiste.table_info order by table_name');
      await send('leaf', event('Update', leafProps, leafProps));
      expect((await leafDb.query('select * from londiste.table_info order by table_name')).rows).toEqual(
        before.rows,
      );
      await send('leaf', event('Delete', leafProps));
      expect(await tables('leaf')).toContain('public.made');
      expect((await leafDb.query("select to_regclass('public.made') as t")).rows[0].t).toBe('made');
      // On the root, create is refused: its tables come from its own DDL.
      await expect(
        send('root', event('Update', { ...root, Tables: [{ name: 'made', create: true }] }, rootProps)),
      ).rejects.toThrow(/create applies below the root/);
      // A provider without the table: the set-up says so and changes nothing.
      await f.s.db('root').query('create table public.gone (id int primary key)');
      await send(
        'root',
        event('Update', { ...rootProps, Tables: [...rootProps.Tables, { name: 'gone' }] }, rootProps),
      );
      await f.s.db('root').query('drop table public.gone');
      await expect(
        send(
          'leaf',
          event(
            'Update',
            { ...leafProps, Tables: [...leafProps.Tables, { name: 'gone', create: true }] },
            leafProps,
          ),
        ),
      ).rejects.toThrow(/public\.gone does not exist on the provider/);
    } finally {
      await leafDb.query('drop table if exists public.made');
      await leafDb.query(`revoke create on schema public from ${owner}`);
      await leafDb.query(`drop role ${owner}`);
    }
  });

  it('refuses a copyCondition with the reason', async () => {
    await expect(
      send('root', event('Update', { ...root, Tables: [{ name: 'orders', copyCondition: 'id > 1' }] }, root)),
    ).rejects.toThrow(/copyCondition is not supported: which rows a copy takes is a handler's own decision/);
  });

  it('refuses a spec that contradicts the database, and a branch or leaf without its provider', async () => {
    await expect(send('leaf', event('Update', { ...leaf(), NodeType: 'branch' }, leaf()))).rejects.toThrow(
      /is node leaf \(leaf\), not leaf \(branch\)/,
    );
    await expect(send('leaf', event('Create', { Queue: 'lq', Node: 'x', NodeType: 'leaf' }))).rejects.toThrow(
      /needs ProviderLocation/,
    );
  });
});
