// Applies a RoleSpec (role-spec.ts) to the database as its desired state, idempotently, in one
// transaction: the login role exists with the secret's password, is a direct member of exactly
// the listed group roles, and holds directly exactly the listed relation privileges (plus USAGE
// on their schemas where it lacks it); anything else granted to it directly is revoked. dropRole
// revokes all of that and drops the role. Both run as the admin custom resource's login (the
// master user: CREATEROLE, owner of the user's tables).
//
// Safety: a role is only ever changed or dropped when it is new or carries this deployment's
// marker (a COMMENT ON ROLE naming its owner, the role's secret), so a roleName that happens to
// name the master user or someone else's role is refused instead of getting a new password.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { ConfigError } from '../../config/settings.ts';
import { quoteIdent } from '../../db/ident.ts';
import { inTransaction } from '../../db/transaction.ts';
import {
  checkRoleName,
  checkRoleSpec,
  type RoleSpec,
  SEQUENCE_PRIVILEGES,
  TABLE_PRIVILEGES,
} from './role-spec.ts';

const MARKER = 'skytools-managed login role; owner: ';

// CloudFormation creates the functions' roles in parallel; two GRANTs on one table (or schema)
// at once fail with "tuple concurrently updated", so role changes take turns.
const ROLES_LOCK = [0x736b7974, 0x726f6c65] as const; // 'skyt', 'role'
const takeTurn = (client: pg.ClientBase) =>
  client.query('select pg_advisory_xact_lock($1, $2)', [...ROLES_LOCK]);
/** The same turn for other admin changes that GRANT (database-sql.ts); inside a transaction. */
export const takeRoleTurn = takeTurn;

export interface RoleChanges {
  created: boolean;
  granted: string[];
  revoked: string[];
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 7677, the format of
 * pg_authid.rolpassword). Sending the verifier instead of the password keeps the password out
 * of the server's statement log (RDS logs DDL when log_statement is set).
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  // SASLprep is the identity on printable ASCII; generated passwords are printable ASCII.
  if (!/^[\x21-\x7e]+$/.test(password)) {
    throw new ConfigError('the role secret password must be non-empty printable ASCII without spaces');
  }
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

interface RoleRow {
  oid: number;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  comment: string | null;
}

async function findRole(client: pg.ClientBase, role: string): Promise<RoleRow | null> {
  const r = await client.query<RoleRow>(
    `select oid::int as oid, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
            pg_catalog.shobj_description(oid, 'pg_authid') as comment
       from pg_catalog.pg_roles where rolname = $1`,
    [role],
  );
  return r.rows[0] ?? null;
}

/** Refuses a role this deployment does not own; null when the role does not exist. */
function checkOwned(row: RoleRow | null, role: string, owners: readonly string[], currentUser: string): void {
  if (!row) return;
  if (
    role === currentUser ||
    row.rolsuper ||
    row.rolcreaterole ||
    row.rolcreatedb ||
    row.rolreplication ||
    row.rolbypassrls
  ) {
    throw new ConfigError(
      `role ${role} exists and is privileged (the custom resource's own login, a superuser, or CREATEROLE/` +
        'CREATEDB/REPLICATION/BYPASSRLS): refusing to manage it; choose another roleName',
    );
  }
  if (!owners.some((o) => row.comment === MARKER + o)) {
    throw new ConfigError(
      `role ${role} exists and is not managed by this deployment (its comment is ${JSON.stringify(row.comment)}): ` +
        'choose another roleName, or pass the role’s own secret to the function (loginSecret) to use it as it is',
    );
  }
}

interface Relation {
  key: string;
  oid: number;
  kind: 'table' | 'sequence';
  schema: string;
  sql: string;
}

async function resolveRelations(client: pg.ClientBase, spec: RoleSpec): Promise<Relation[]> {
  const out: Relation[] = [];
  for (const [key, privs] of Object.entries(spec.grants)) {
    const r = await client.query<{ oid: number; relkind: string; nspname: string; sql: string }>(
      `select c.oid::int as oid, c.relkind::text as relkind, n.nspname,
              format('%I.%I', n.nspname, c.relname) as sql
         from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where c.oid = to_regclass($1)`,
      [key],
    );
    const row = r.rows[0];
    if (!row) {
      throw new ConfigError(
        `role ${spec.role}: grant on ${key}: no such relation in this database; create it before deploying ` +
          '(or remove it from grants)',
      );
    }
    const kind = row.relkind === 'S' ? 'sequence' : 'rvmfp'.includes(row.relkind) ? 'table' : null;
    if (!kind) throw new ConfigError(`role ${spec.role}: grant on ${key}: not a table, view or sequence`);
    const allowed: readonly string[] = kind === 'sequence' ? SEQUENCE_PRIVILEGES : TABLE_PRIVILEGES;
    const bad = privs.filter((p) => !allowed.includes(p));
    if (bad.length > 0) {
      throw new ConfigError(
        `role ${spec.role}: grant on ${key}: ${bad.join(', ')} does not apply to a ${kind}`,
      );
    }
    out.push({ key, oid: row.oid, kind, schema: row.nspname, sql: row.sql });
  }
  return out;
}

/** What the role holds directly in this database: relation privileges and schema USAGE. */
async function directPrivileges(client: pg.ClientBase, roleOid: number) {
  const rels = await client.query<{ oid: number; relkind: string; sql: string; privilege: string }>(
    `select c.oid::int as oid, c.relkind::text as relkind, format('%I.%I', n.nspname, c.relname) as sql,
            lower(a.privilege_type) as privilege
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace,
            lateral pg_catalog.aclexplode(c.relacl) a
      where a.grantee = $1`,
    [roleOid],
  );
  const schemas = await client.query<{ nspname: string }>(
    `select n.nspname from pg_catalog.pg_namespace n, lateral pg_catalog.aclexplode(n.nspacl) a
      where a.grantee = $1 and a.privilege_type = 'USAGE'`,
    [roleOid],
  );
  return { relations: rels.rows, schemas: schemas.rows.map((r) => r.nspname) };
}

async function memberships(client: pg.ClientBase, roleOid: number): Promise<string[]> {
  const r = await client.query<{ rolname: string }>(
    `select g.rolname from pg_catalog.pg_auth_members m join pg_catalog.pg_roles g on g.oid = m.roleid
      where m.member = $1`,
    [roleOid],
  );
  return r.rows.map((x) => x.rolname);
}

export interface ApplyRoleOptions {
  /** The role's password (from its secret); stored as a SCRAM verifier. */
  password: string;
  /** Who owns the role (the role secret's ARN): recorded on create, required on every later change. */
  owner: string;
  /** Earlier owners accepted once (the secret was replaced): the marker moves to `owner`. */
  formerOwners?: readonly string[];
}

/** Makes the database match `spec` (see the header); all or nothing. */
export async function applyRole(
  client: pg.ClientBase,
  input: RoleSpec,
  opts: ApplyRoleOptions,
): Promise<RoleChanges> {
  const spec = checkRoleSpec(input);
  const verifier = scramVerifier(opts.password);
  const role = quoteIdent(spec.role);
  const changes: RoleChanges = { created: false, granted: [], revoked: [] };
  return inTransaction(client, async () => {
    await takeTurn(client);
    const me = (await client.query<{ u: string }>('select current_user as u')).rows[0]!.u;
    const existing = await findRole(client, spec.role);
    checkOwned(existing, spec.role, [opts.owner, ...(opts.formerOwners ?? [])], me);
    const groups = await client.query<{ rolname: string }>(
      'select rolname from pg_catalog.pg_roles where rolname = any($1::text[])',
      [spec.memberOf],
    );
    const missing = spec.memberOf.filter((g) => !groups.rows.some((r) => r.rolname === g));
    if (missing.length > 0) {
      throw new ConfigError(
        `role ${spec.role}: group role(s) ${missing.join(', ')} do not exist: install the schema first ` +
          '(PgqSchema) as a user that may create roles',
      );
    }
    const relations = await resolveRelations(client, spec);

    // The verifier is base64 and '$:' only (checked), so it needs no escaping inside the quotes.
    if (!/^[A-Za-z0-9+/=:$-]+$/.test(verifier))
      throw new Error('unexpected characters in the SCRAM verifier');
    if (existing) {
      await client.query(`alter role ${role} with login password '${verifier}'`);
    } else {
      await client.query(`create role ${role} with login password '${verifier}'`);
      changes.created = true;
    }
    if (existing?.comment !== MARKER + opts.owner) {
      await client.query(`comment on role ${role} is '${(MARKER + opts.owner).replaceAll("'", "''")}'`);
    }
    const oid = (await findRole(client, spec.role))!.oid;

    const have = await memberships(client, oid);
    for (const g of have.filter((g) => !spec.memberOf.includes(g))) {
      await client.query(`revoke ${quoteIdent(g)} from ${role}`);
      changes.revoked.push(`member of ${g}`);
    }
    for (const g of spec.memberOf.filter((g) => !have.includes(g))) {
      await client.query(`grant ${quoteIdent(g)} to ${role}`);
      changes.granted.push(`member of ${g}`);
    }

    const current = await directPrivileges(client, oid);
    const wanted = new Set(relations.flatMap((rel) => spec.grants[rel.key]!.map((p) => `${rel.oid}:${p}`)));
    for (const p of current.relations) {
      if (wanted.has(`${p.oid}:${p.privilege}`)) continue;
      const kind = p.relkind === 'S' ? 'sequence' : 'table';
      await client.query(`revoke ${p.privilege} on ${kind} ${p.sql} from ${role}`);
      changes.revoked.push(`${p.privilege} on ${p.sql}`);
    }
    for (const rel of relations) {
      const privs = spec.grants[rel.key]!;
      const held = new Set(current.relations.filter((p) => p.oid === rel.oid).map((p) => p.privilege));
      const add = privs.filter((p) => !held.has(p));
      if (add.length === 0) continue;
      await client.query(`grant ${add.join(', ')} on ${rel.kind} ${rel.sql} to ${role}`);
      changes.granted.push(`${add.join(', ')} on ${rel.sql}`);
    }

    const schemas = [...new Set(relations.map((r) => r.schema))];
    for (const s of current.schemas.filter((s) => !schemas.includes(s))) {
      await client.query(`revoke usage on schema ${quoteIdent(s)} from ${role}`);
      changes.revoked.push(`usage on schema ${s}`);
    }
    for (const s of schemas) {
      const ok = await client.query<{ ok: boolean }>("select has_schema_privilege($1, $2, 'usage') as ok", [
        spec.role,
        s,
      ]);
      if (ok.rows[0]!.ok) continue;
      await client.query(`grant usage on schema ${quoteIdent(s)} to ${role}`);
      changes.granted.push(`usage on schema ${s}`);
    }
    return changes;
  });
}

export type DropOutcome =
  /** Revoked and dropped. */
  | { outcome: 'dropped' }
  /** Nothing to do: no such role, or not this deployment's (never touched). */
  | { outcome: 'absent' | 'not-owned' }
  /** Revoked here, but the role still has privileges or objects elsewhere: left NOLOGIN. */
  | { outcome: 'disabled'; detail: string };

/**
 * Revokes what the role holds in this database (memberships, relation and schema privileges)
 * and drops it. A role this deployment does not own is left alone; one that still owns objects
 * or holds privileges in another database cannot be dropped and is made NOLOGIN instead, so a
 * stack deletion never fails on it.
 */
export async function dropRole(client: pg.ClientBase, roleName: string, owner: string): Promise<DropOutcome> {
  checkRoleName(roleName);
  const role = quoteIdent(roleName);
  return inTransaction(client, async () => {
    await takeTurn(client);
    const row = await findRole(client, roleName);
    if (!row) return { outcome: 'absent' };
    if (row.comment !== MARKER + owner) return { outcome: 'not-owned' };
    for (const g of await memberships(client, row.oid))
      await client.query(`revoke ${quoteIdent(g)} from ${role}`);
    const current = await directPrivileges(client, row.oid);
    for (const p of current.relations) {
      await client.query(`revoke all on ${p.relkind === 'S' ? 'sequence' : 'table'} ${p.sql} from ${role}`);
    }
    for (const s of current.schemas) await client.query(`revoke all on schema ${quoteIdent(s)} from ${role}`);
    await client.query('savepoint drop_role');
    try {
      await client.query(`drop role ${role}`);
      return { outcome: 'dropped' };
    } catch (err) {
      if ((err as { code?: string }).code !== '2BP01') throw err;
      await client.query('rollback to savepoint drop_role');
      await client.query(`alter role ${role} with nologin`);
      const e = err as { message: string; detail?: string };
      return { outcome: 'disabled', detail: `${e.message}${e.detail ? `: ${e.detail}` : ''}` };
    }
  });
}
