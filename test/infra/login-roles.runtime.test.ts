// Least privilege inside the database: the admin custom resource gives each deployed function a
// login role of its own (layers/pgq/lambda/roles.ts) and completes its secret; the function then
// logs in with that secret. A consumer reads its batches and writes its target table and nothing
// else; the ticker ticks and runs maintenance and reads no application table. Roles are applied
// idempotently, follow changed grants, refuse roles that are not theirs, and are dropped after
// revoking on Delete unless kept. Secrets Manager cannot run here: the role secrets live in a Map
// behind the custom resource's SecretStore and the DatabaseSource's client.
import { randomBytes } from 'node:crypto';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseSource } from '../../layers/aws/database.ts';
import type { SecretStore } from '../../layers/aws/secrets.ts';
import { loadSettings } from '../../layers/aws/settings.ts';
import { processNextBatch } from '../../layers/pgq/consumer.ts';
import { handleAdminEvent, MAINTENANCE_SETTINGS } from '../../layers/pgq/lambda/index.ts';
import { scramVerifier } from '../../layers/pgq/lambda/roles.ts';
import { retryEvents, runMaintenance, tickOnce } from '../../layers/pgq/ticker.ts';
import { type LogFields, silentLogger } from '../../layers/util/log.ts';
import { useTestDatabase } from '../support/db.ts';
import { pgError } from '../support/pgq.ts';

const db = useTestDatabase();
const sfx = randomBytes(3).toString('hex');
const names = { consumer: `c_${sfx}`, ticker: `t_${sfx}`, stranger: `s_${sfx}`, owner: `o_${sfx}` };
const arn = (role: string) => `arn:aws:secretsmanager:eu-west-1:111111111111:secret:${role}-AbCdEf`;

// The role secrets as Secrets Manager would hold them: generated username + password at first.
const store = new Map<string, string>();
const secrets: SecretStore = {
  get: async (id) => {
    const v = store.get(id);
    if (v === undefined) throw new Error(`no secret ${id}`);
    return v;
  },
  put: async (id, v) => {
    store.set(id, v);
  },
};
// What a function's DatabaseSource reads: GetSecretValue of its own secret.
const secretsClient = {
  send: async (cmd: { input: { SecretId: string } }) => ({
    SecretString: await secrets.get(cmd.input.SecretId),
  }),
} as unknown as SecretsManagerClient;

let master: DatabaseSource;
const opened: pg.Client[] = [];

function cfn(
  type: 'Create' | 'Update' | 'Delete',
  props: Record<string, unknown>,
  old: Record<string, unknown> = {},
): CloudFormationCustomResourceEvent {
  return {
    RequestType: type,
    ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:provider',
    ResponseURL: 'https://example.invalid/',
    StackId: 'stack',
    RequestId: 'req',
    LogicalResourceId: 'Login',
    ResourceType: 'Custom::PgqDatabaseRole',
    ResourceProperties: { ServiceToken: 'arn', Action: 'database-role', ...props },
    ...(type === 'Create'
      ? {}
      : {
          PhysicalResourceId: String(props.Role),
          OldResourceProperties: { Action: 'database-role', ...old },
        }),
  } as CloudFormationCustomResourceEvent;
}

const roleProps = (role: string, memberOf: string[], grants: Record<string, string[]> = {}, extra = {}) => ({
  Role: role,
  MemberOf: memberOf,
  Grants: JSON.stringify(grants),
  SecretArn: arn(role),
  RemovalPolicy: 'destroy',
  ...extra,
});

const applyRole = (
  type: 'Create' | 'Update',
  props: Record<string, unknown>,
  old?: Record<string, unknown>,
) => handleAdminEvent(cfn(type, props, old ?? props), { db: master, secrets });

/** Logs in the way the deployed function does: DATABASE_SECRET_ARN = its own secret. */
async function loginAs(role: string): Promise<pg.Client> {
  const source = new DatabaseSource(
    loadSettings(MAINTENANCE_SETTINGS, { DATABASE_SECRET_ARN: arn(role), DATABASE_SSL: 'disable' }),
    { secrets: secretsClient },
  );
  const c = await source.connect(`test-${role}`);
  c.on('error', () => {});
  opened.push(c);
  return c;
}

const CONSUMER_GRANTS = {
  'public.order_audit': ['select', 'insert', 'update'],
  'public.order_audit_id_seq': ['usage'],
};

beforeAll(async () => {
  master = new DatabaseSource(loadSettings(MAINTENANCE_SETTINGS, { DATABASE_URL: db.url }));
  for (const role of [names.consumer, names.ticker, names.stranger]) {
    store.set(arn(role), JSON.stringify({ username: role, password: randomBytes(12).toString('hex') }));
  }
  await db.query('create table public.order_audit (id bigserial primary key, ev_id bigint, note text)');
  await db.query(
    "create table public.customers (id int primary key, card text); insert into customers values (1, '4111')",
  );
  await db.query("select pgq.create_queue('orders')");
  // A queue no consumer holds back, so that rotation is due and runs as the ticker role.
  await db.query("select pgq.create_queue('idle')");
  await db.query("select pgq.register_consumer('orders', 'audit')");
  await applyRole('Create', roleProps(names.consumer, ['pgq_reader'], CONSUMER_GRANTS));
  await applyRole('Create', roleProps(names.ticker, ['pgq_admin']));
});

afterAll(async () => {
  await Promise.all(opened.map((c) => c.end().catch(() => {})));
  for (const role of Object.values(names)) {
    await db.query(`drop owned by ${role}`).catch(() => {});
    await db.query(`drop role if exists ${role}`).catch(() => {});
  }
  await master?.end();
});

describe('login roles of the deployed functions', () => {
  it('completes each role secret with the host, port and database the custom resource logs in to', async () => {
    const s = JSON.parse(store.get(arn(names.consumer))!);
    const url = new URL(db.url);
    expect(s).toMatchObject({
      username: names.consumer,
      engine: 'postgres',
      port: Number(url.port),
      dbname: url.pathname.slice(1),
    });
    expect(s.host).toBeTruthy();
    const role = await db.one(
      'select rolcanlogin, rolsuper, rolcreaterole, rolpassword from pg_authid where rolname = $1',
      [names.consumer],
    );
    // Stored as a SCRAM verifier: the password itself never appeared in a statement.
    expect(role).toMatchObject({ rolcanlogin: true, rolsuper: false, rolcreaterole: false });
    expect(role.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
  });

  it('the ticker role ticks, moves retries and runs maintenance, and reads no application table', async () => {
    const ticker = await loginAs(names.ticker);
    await db.query("select pgq.insert_event('orders', 'order', 'o1')");
    await db.query("select pgq.insert_event('orders', 'order', 'o2')");
    await ticker.query("select pgq.force_tick('orders')");
    const ticks = await tickOnce(ticker);
    expect(ticks.map((t) => t.queue)).toContain('orders');
    expect(await retryEvents(ticker)).toBe(0);
    // What the ticker publishes as metrics after its loop.
    const info = await ticker.query('select queue_name from pgq.get_queue_info() order by 1');
    expect(info.rows.map((r) => r.queue_name)).toEqual(['idle', 'orders']);
    const lag = await ticker.query('select consumer_name from pgq.get_consumer_info()');
    expect(lag.rows.map((r) => r.consumer_name)).toEqual(['audit']);
    // Make rotation due, so maintenance has real steps to run as this role.
    await db.query(
      "update pgq.queue set queue_rotation_period = '1 second', queue_switch_time = now() - interval '1 hour' where queue_name = 'idle'",
    );
    const before = await db.one("select queue_cur_table from pgq.queue where queue_name = 'idle'");
    const failures: string[] = [];
    const steps = await runMaintenance(ticker, {
      ...silentLogger,
      warn: (m: string, f?: LogFields) => failures.push(`${m} ${JSON.stringify(f)}`),
    });
    expect(failures).toEqual([]);
    expect(steps).toBeGreaterThanOrEqual(2);
    const after = await db.one(
      "select queue_cur_table, queue_switch_step2 from pgq.queue where queue_name = 'idle'",
    );
    expect(after.queue_cur_table).not.toBe(before.queue_cur_table);
    expect(after.queue_switch_step2).not.toBeNull();
    for (const sql of [
      'select * from public.order_audit',
      'select * from public.customers',
      "insert into public.order_audit (note) values ('x')",
      'create table public.mine (x int)',
      'drop table public.customers',
    ]) {
      const err = await pgError(ticker.query(sql));
      expect(err.code, sql).toMatch(/^42501$|^42P01$/);
      expect(err.message, sql).toMatch(/permission denied|must be owner/);
    }
  });

  it('the consumer role reads its batches and writes its target table in the batch transaction', async () => {
    const consumer = await loginAs(names.consumer);
    const res = await processNextBatch(consumer, {
      queue: 'orders',
      consumer: 'audit',
      handler: async (batch, tx) => {
        for (const ev of batch.events) {
          await tx.query('insert into public.order_audit (ev_id, note) values ($1, $2)', [ev.id, ev.data]);
          ev.tagDone();
        }
        await tx.query("update public.order_audit set note = note || ' seen'");
      },
    });
    expect(res?.events).toBe(2);
    const rows = await db.query('select note from public.order_audit order by id');
    expect(rows.rows.map((r) => r.note)).toEqual(['o1 seen', 'o2 seen']);
  });

  it('the consumer role is refused the ticker, queue admin, other tables and DDL', async () => {
    const consumer = await loginAs(names.consumer);
    for (const sql of [
      'select pgq.ticker()',
      "select pgq.create_queue('mine')",
      "select pgq.drop_queue('orders')",
      "select pgq.insert_event('orders', 'x', 'y')",
      'select * from public.customers',
      'delete from public.order_audit',
      'truncate public.order_audit',
      'select * from pgq.event_all',
      'create table public.mine (x int)',
      'create schema mine',
      'alter table public.order_audit add column y int',
      'drop table public.order_audit',
    ]) {
      const err = await pgError(consumer.query(sql));
      expect(err.code, sql).toBe('42501');
    }
  });

  it('re-applying is a no-op; changed grants and stray memberships converge to the declaration', async () => {
    const again = await applyRole('Update', roleProps(names.consumer, ['pgq_reader'], CONSUMER_GRANTS));
    expect(again.PhysicalResourceId).toBe(names.consumer);
    const privs = () =>
      db.query<{ p: string }>(
        `select c.relname || ':' || lower(a.privilege_type) as p from pg_class c, aclexplode(c.relacl) a
          where a.grantee = $1::regrole order by 1`,
        [names.consumer],
      );
    expect((await privs()).rows.map((r) => r.p)).toEqual([
      'order_audit:insert',
      'order_audit:select',
      'order_audit:update',
      'order_audit_id_seq:usage',
    ]);
    // Granted by hand, outside the declaration: revoked by the next deploy.
    await db.query(`grant pgq_writer to ${names.consumer}`);
    await db.query(`grant select on public.customers to ${names.consumer}`);
    await applyRole(
      'Update',
      roleProps(names.consumer, ['pgq_reader'], { 'public.order_audit': ['select', 'delete'] }),
    );
    expect((await privs()).rows.map((r) => r.p)).toEqual(['order_audit:delete', 'order_audit:select']);
    const groups = await db.query(
      'select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid where m.member = $1::regrole',
      [names.consumer],
    );
    expect(groups.rows.map((r) => r.rolname)).toEqual(['pgq_reader']);
    // The function keeps logging in with its secret across deploys.
    const consumer = await loginAs(names.consumer);
    expect((await consumer.query('select current_user as u')).rows[0].u).toBe(names.consumer);
  });

  it('bad input changes nothing: an unknown table, a bad privilege, a secret for another user', async () => {
    const role = `n_${sfx}`;
    store.set(arn(role), JSON.stringify({ username: role, password: 'pw-pw-pw-pw' }));
    await expect(
      applyRole('Create', roleProps(role, ['pgq_reader'], { 'public.no_such_table': ['insert'] })),
    ).rejects.toThrow(/no such relation/);
    await expect(
      applyRole('Create', roleProps(role, ['pgq_reader'], { 'public.customers': ['drop'] })),
    ).rejects.toThrow(/unknown privilege "drop"/);
    await expect(
      applyRole('Create', roleProps(role, ['pgq_reader'], { customers: ['select'] })),
    ).rejects.toThrow(/schema\.table/);
    await expect(applyRole('Create', roleProps(role, ['pgq_nonesuch']))).rejects.toThrow(/do not exist/);
    await expect(
      applyRole('Create', { ...roleProps(role, ['pgq_reader']), SecretArn: arn(names.ticker) }),
    ).rejects.toThrow(/must hold username/);
    expect((await db.query('select 1 from pg_roles where rolname = $1', [role])).rows).toEqual([]);
    // CloudFormation then deletes what it could not create: that must succeed and do nothing.
    await expect(applyRole('Create', roleProps('Bad Name', ['pgq_reader']))).rejects.toThrow(
      /not a plain identifier/,
    );
    const gone = await handleAdminEvent(cfn('Delete', roleProps('Bad Name', ['pgq_reader'])), {
      db: master,
      secrets,
    });
    expect(gone.PhysicalResourceId).toBe('Bad Name');
  });

  it('refuses a role it does not own (e.g. the master user, or a role of someone else)', async () => {
    await db.query(`create role ${names.stranger} login password 'theirs'`);
    const before = await db.one('select rolpassword from pg_authid where rolname = $1', [names.stranger]);
    await expect(applyRole('Create', roleProps(names.stranger, ['pgq_reader']))).rejects.toThrow(
      /not managed by this deployment/,
    );
    // A stack deletion after that failed create leaves the stranger alone.
    await handleAdminEvent(cfn('Delete', roleProps(names.stranger, ['pgq_reader'])), { db: master, secrets });
    const after = await db.one('select rolpassword from pg_authid where rolname = $1', [names.stranger]);
    expect(after.rolpassword).toBe(before.rolpassword);
    const me = (await db.one('select current_user as u')).u as string;
    store.set(arn(me), JSON.stringify({ username: me, password: 'new-password' }));
    await expect(applyRole('Create', roleProps(me, ['pgq_reader']))).rejects.toThrow(/refusing to manage it/);
  });

  it('Delete revokes and drops the role (its login stops working); retain keeps it', async () => {
    const kept = `k_${sfx}`;
    store.set(arn(kept), JSON.stringify({ username: kept, password: 'kept-password' }));
    await applyRole('Create', roleProps(kept, ['pgq_admin'], {}, { RemovalPolicy: 'retain' }));
    await handleAdminEvent(cfn('Delete', roleProps(kept, ['pgq_admin'], {}, { RemovalPolicy: 'retain' })), {
      db: master,
      secrets,
    });
    expect((await db.query('select 1 from pg_roles where rolname = $1', [kept])).rows).toHaveLength(1);
    await db.query(`drop role ${kept}`);

    await handleAdminEvent(cfn('Delete', roleProps(names.consumer, ['pgq_reader'])), { db: master, secrets });
    expect((await db.query('select 1 from pg_roles where rolname = $1', [names.consumer])).rows).toEqual([]);
    expect((await pgError(loginAs(names.consumer))).code).toMatch(/28000|28P01/);
  });

  it('a role that still owns something is revoked and left NOLOGIN instead of failing the stack deletion', async () => {
    store.set(arn(names.owner), JSON.stringify({ username: names.owner, password: 'owner-password' }));
    await applyRole('Create', roleProps(names.owner, ['pgq_reader']));
    await db.query(
      `create table public.owned_${sfx} (x int); alter table public.owned_${sfx} owner to ${names.owner}`,
    );
    await handleAdminEvent(cfn('Delete', roleProps(names.owner, ['pgq_reader'])), { db: master, secrets });
    const r = await db.one('select rolcanlogin from pg_roles where rolname = $1', [names.owner]);
    expect(r.rolcanlogin).toBe(false);
    const groups = await db.query('select 1 from pg_auth_members where member = $1::regrole', [names.owner]);
    expect(groups.rows).toEqual([]);
  });

  it('roles deployed in parallel (as CloudFormation does) granting on one table all succeed', async () => {
    const many = [1, 2, 3, 4].map((i) => `p${i}_${sfx}`);
    for (const r of many) store.set(arn(r), JSON.stringify({ username: r, password: `pw-${r}` }));
    const props = (r: string) => roleProps(r, ['pgq_reader'], { 'public.customers': ['select'] });
    try {
      await Promise.all(many.map((r) => applyRole('Create', props(r))));
      const n = await db.one(
        "select count(*)::int as n from pg_class c, aclexplode(c.relacl) a where c.oid = 'public.customers'::regclass and a.grantee::regrole::text = any($1)",
        [many],
      );
      expect(n.n).toBe(4);
      await Promise.all(many.map((r) => handleAdminEvent(cfn('Delete', props(r)), { db: master, secrets })));
      expect((await db.query('select 1 from pg_roles where rolname = any($1)', [many])).rows).toEqual([]);
    } finally {
      for (const r of many) await db.query(`drop owned by ${r}; drop role ${r}`).catch(() => {});
    }
  });

  it('needs no superuser: a CREATEROLE master (as on RDS) creates, grants on its own table, and drops', async () => {
    const m = `m_${sfx}`;
    const role = `r_${sfx}`;
    await db.query(`create role ${m} login createrole password 'master-pw'`);
    await db.query(`create table public.mine_${sfx} (x int); alter table public.mine_${sfx} owner to ${m}`);
    const url = new URL(db.url);
    url.username = m;
    url.password = 'master-pw';
    const rdsLike = new DatabaseSource(loadSettings(MAINTENANCE_SETTINGS, { DATABASE_URL: url.toString() }));
    try {
      store.set(arn(role), JSON.stringify({ username: role, password: 'role-password' }));
      const props = roleProps(role, ['pgq_reader'], { [`public.mine_${sfx}`]: ['insert'] });
      await handleAdminEvent(cfn('Create', props), { db: rdsLike, secrets });
      const c = await loginAs(role);
      await c.query(`insert into public.mine_${sfx} values (1)`);
      expect((await pgError(c.query(`select * from public.mine_${sfx}`))).code).toBe('42501');
      await handleAdminEvent(cfn('Delete', props), { db: rdsLike, secrets });
      expect((await db.query('select 1 from pg_roles where rolname = $1', [role])).rows).toEqual([]);
    } finally {
      await rdsLike.end();
      await db.query(`drop table if exists public.mine_${sfx}`);
      await db.query(`drop role if exists ${role}`);
      await db.query(`drop role if exists ${m}`);
    }
  });

  it('scramVerifier: the format PostgreSQL stores, and a login with the password works', async () => {
    const salt = Buffer.alloc(16, 7);
    // Stable for fixed salt and iterations; PostgreSQL accepts it (the logins above use it).
    expect(scramVerifier('secret', salt)).toBe(scramVerifier('secret', salt));
    expect(scramVerifier('secret', salt)).toMatch(
      /^SCRAM-SHA-256\$4096:BwcHBwcHBwcHBwcHBwcHBw==\$[A-Za-z0-9+/]+=:[A-Za-z0-9+/]+=$/,
    );
    expect(() => scramVerifier('with space')).toThrow(/printable ASCII/);
    // The server checks passwords (pg_hba "password"): a wrong one is refused.
    const s = JSON.parse(store.get(arn(names.ticker))!);
    store.set(arn(names.ticker), JSON.stringify({ ...s, password: 'not-the-password' }));
    expect((await pgError(loginAs(names.ticker))).code).toBe('28P01');
    store.set(arn(names.ticker), JSON.stringify(s));
    expect((await (await loginAs(names.ticker)).query('select current_user as u')).rows[0].u).toBe(
      names.ticker,
    );
  });
});
