// CloudFormation custom resources (behind the CDK Provider framework): install or upgrade the
// SQL schema from the bundled statements, create a queue / register a consumer, and keep a
// deployed function's login role (roles.ts). Installing is idempotent (re-running is an upgrade
// or a no-op), so Create and Update do the same; Delete never drops the schema, and unregisters
// a consumer only when asked to (its position and pending events would be lost). A login role
// is applied as its desired state on every Create and Update, its secret completed with the
// database's host, port and name (the rotation function and the function read them there), and
// on Delete revoked and dropped unless its RemovalPolicy is retain. Statements declared in the app
// (Action sql, database-sql.ts) run as given on Create and Update, never undone.
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { DatabaseSource } from '../../aws/database.ts';
import type { SecretStore } from '../../aws/secrets.ts';
import { ConfigError } from '../../config/settings.ts';
import { INSTALL_CHUNKS } from '../../install/generated-sql.ts';
import { install } from '../../install/installer.ts';
import { type Logger, silentLogger } from '../../util/log.ts';
import { registerConsumer, unregisterConsumer } from '../consumer.ts';
import { applyDatabaseSql, parseStatements } from './database-sql.ts';
import { checkRoleName, checkRoleSpec, type RelationGrants } from './role-spec.ts';
import { applyRole, dropRole } from './roles.ts';

export interface AdminResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

export async function handleAdminEvent(
  event: CloudFormationCustomResourceEvent,
  deps: { db: DatabaseSource; secrets?: SecretStore; log?: Logger },
): Promise<AdminResponse> {
  const log = deps.log ?? silentLogger;
  const props = event.ResourceProperties as Record<string, string | undefined>;
  const action = props.Action;
  if (action === 'database-role') return handleRoleEvent(event, { ...deps, log });
  if (action === 'sql') {
    // Never undone: see database-sql.ts.
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    const statements = parseStatements((event.ResourceProperties as Record<string, unknown>).Statements);
    const client = await deps.db.connect('skytools-admin');
    try {
      const n = await applyDatabaseSql(client, statements);
      log.info('database statements applied', { statements: n });
      return { PhysicalResourceId: `skytools-sql-${event.LogicalResourceId}` };
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (action === 'install') {
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    const client = await deps.db.connect('skytools-install');
    try {
      const res = await install(client, { chunks: INSTALL_CHUNKS });
      log.info('schema installed', { statements: res.statements, pgqVersion: res.pgqVersion });
      return { PhysicalResourceId: 'skytools-schema', Data: { PgqVersion: res.pgqVersion ?? '' } };
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (action === 'register-consumer') {
    const queue = props.Queue;
    const consumer = props.Consumer;
    if (!queue || !consumer) throw new ConfigError('register-consumer needs Queue and Consumer properties');
    const id = `${queue}/${consumer}`;
    const client = await deps.db.connect('skytools-admin');
    try {
      if (event.RequestType === 'Delete') {
        if (props.UnregisterOnDelete === 'true') {
          await unregisterConsumer(client, queue, consumer);
          log.info('consumer unregistered', { queue, consumer });
        }
        return { PhysicalResourceId: event.PhysicalResourceId };
      }
      if (props.CreateQueue !== 'false') await client.query('select pgq.create_queue($1)', [queue]);
      const fresh = await registerConsumer(client, queue, consumer);
      log.info(fresh ? 'consumer registered' : 'consumer was registered already', { queue, consumer });
      return { PhysicalResourceId: id };
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw new ConfigError(
    `unknown custom resource Action ${JSON.stringify(action)}: expected install, register-consumer, database-role or sql`,
  );
}

interface RoleProps {
  Role?: string;
  MemberOf?: string[];
  /** JSON of RelationGrants (a string, so CloudFormation keeps the shape as written). */
  Grants?: string;
  SecretArn?: string;
  RemovalPolicy?: string;
}

interface RoleSecret {
  username?: string;
  password?: string;
  host?: string;
  port?: number | string;
  dbname?: string;
  engine?: string;
}

function isRoleName(name: string): boolean {
  try {
    checkRoleName(name);
    return true;
  } catch {
    return false;
  }
}

async function handleRoleEvent(
  event: CloudFormationCustomResourceEvent,
  deps: { db: DatabaseSource; secrets?: SecretStore; log: Logger },
): Promise<AdminResponse> {
  const props = event.ResourceProperties as RoleProps;
  const { Role: role, SecretArn: secretArn } = props;
  if (!role || !secretArn || !isRoleName(role)) {
    // A Delete must not fail on what could never have been created (e.g. after a refused Create).
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    if (role) checkRoleName(role);
    throw new ConfigError('database-role needs Role and SecretArn properties');
  }
  const client = await deps.db.connect('skytools-admin');
  try {
    if (event.RequestType === 'Delete') {
      if (props.RemovalPolicy === 'retain') {
        deps.log.info('login role kept (RemovalPolicy retain)', { role });
      } else {
        const res = await dropRole(client, role, secretArn);
        deps.log.info(`login role ${res.outcome}`, {
          role,
          ...('detail' in res ? { detail: res.detail } : {}),
        });
      }
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    let grants: RelationGrants;
    try {
      grants = JSON.parse(props.Grants ?? '{}') as RelationGrants;
    } catch {
      throw new ConfigError(`database-role ${role}: Grants is not JSON: ${props.Grants}`);
    }
    const spec = checkRoleSpec({ role, memberOf: props.MemberOf ?? [], grants });
    if (!deps.secrets) throw new ConfigError('database-role needs a secret store');
    const raw = await deps.secrets.get(secretArn);
    let secret: RoleSecret;
    try {
      secret = JSON.parse(raw) as RoleSecret;
    } catch {
      throw new ConfigError(`secret ${secretArn} of role ${role} is not JSON`);
    }
    if (secret.username !== role || !secret.password) {
      throw new ConfigError(
        `secret ${secretArn} must hold username ${JSON.stringify(role)} and a password (got username ${JSON.stringify(secret.username)})`,
      );
    }
    const old =
      event.RequestType === 'Update' ? (event.OldResourceProperties as RoleProps).SecretArn : undefined;
    const changes = await applyRole(client, spec, {
      password: secret.password,
      owner: secretArn,
      ...(old && old !== secretArn ? { formerOwners: [old] } : {}),
    });
    deps.log.info(changes.created ? 'login role created' : 'login role updated', { role, ...changes });
    // Where the function and the rotation function connect: this login's server and database.
    const where = { host: client.host, port: client.port, dbname: client.database ?? '' };
    if (
      secret.host !== where.host ||
      Number(secret.port) !== where.port ||
      secret.dbname !== where.dbname ||
      secret.engine !== 'postgres'
    ) {
      await deps.secrets.put(secretArn, JSON.stringify({ ...secret, engine: 'postgres', ...where }));
      deps.log.info('role secret completed with the connection fields', { role, host: where.host });
    }
    return { PhysicalResourceId: role, Data: { RoleName: role } };
  } finally {
    await client.end().catch(() => {});
  }
}
