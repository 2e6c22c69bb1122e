// The login role of one deployed function, as data: its name, the group roles it is a member of
// and its privileges on the user's tables. The CDK constructs declare one per function
// (infra/constructs/database-login.ts), the admin custom resource applies it (roles.ts). No I/O
// here, so the construct validates at synth time with the same rules the custom resource applies
// at deploy time.
import { ConfigError } from '../../config/settings.ts';

/** Privileges a role may hold on a table, view or materialized view. */
export const TABLE_PRIVILEGES = [
  'select',
  'insert',
  'update',
  'delete',
  'truncate',
  'references',
  'trigger',
] as const;
/** Privileges a role may hold on a sequence (a serial column's default needs usage). */
export const SEQUENCE_PRIVILEGES = ['usage', 'select', 'update'] as const;
export type TablePrivilege = (typeof TABLE_PRIVILEGES)[number];
export type SequencePrivilege = (typeof SEQUENCE_PRIVILEGES)[number];
export type Privilege = TablePrivilege | SequencePrivilege;

/** Privileges by schema-qualified relation name, e.g. `{ 'public.order_audit': ['insert', 'update'] }`. */
export type RelationGrants = Readonly<Record<string, readonly Privilege[]>>;

export interface RoleSpec {
  /** The login role (cluster-wide in PostgreSQL: unique across the databases of one server). */
  readonly role: string;
  /** Group roles it is a direct member of, e.g. pgq_reader; any other membership is revoked. */
  readonly memberOf: readonly string[];
  /** Its privileges on relations; any other privilege granted to it directly is revoked. */
  readonly grants: RelationGrants;
}

/** Plain lower-case identifiers only: what the name says is what PostgreSQL stores. */
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkRoleName(name: string, what = 'role name'): string {
  if (!ROLE_NAME.test(name) || name.startsWith('pg_')) {
    throw new ConfigError(
      `${what} ${JSON.stringify(name)} is not a plain identifier: use 1–63 of a-z, 0-9 and _, ` +
        'starting with a letter or _, not pg_',
    );
  }
  return name;
}

/**
 * Checks a spec's shape and names (not whether the relations exist: that is the database's to
 * say). Throws a ConfigError naming the bad part; returns the spec normalized (privileges
 * lower-case and unique, relation keys trimmed).
 */
export function checkRoleSpec(spec: RoleSpec): RoleSpec {
  checkRoleName(spec.role);
  if (!Array.isArray(spec.memberOf))
    throw new ConfigError(`role ${spec.role}: memberOf must be a list of role names`);
  for (const g of spec.memberOf) checkRoleName(g, `role ${spec.role}: group role`);
  if (spec.memberOf.includes(spec.role))
    throw new ConfigError(`role ${spec.role} cannot be a member of itself`);
  if (spec.grants === null || typeof spec.grants !== 'object' || Array.isArray(spec.grants)) {
    throw new ConfigError(`role ${spec.role}: grants must be an object { "schema.table": ["insert", …] }`);
  }
  const allowed = new Set<string>([...TABLE_PRIVILEGES, ...SEQUENCE_PRIVILEGES]);
  const grants: Record<string, Privilege[]> = {};
  for (const [rawName, privs] of Object.entries(spec.grants)) {
    const name = rawName.trim();
    // Schema-qualified, so that no search_path decides which table a role may write.
    if (!/^("[^"]+"|[^".\s]+)\.("[^"]+"|[^".\s]+)$/.test(name)) {
      throw new ConfigError(
        `role ${spec.role}: grant on ${JSON.stringify(rawName)}: name the relation as schema.table`,
      );
    }
    if (!Array.isArray(privs) || privs.length === 0) {
      throw new ConfigError(`role ${spec.role}: grant on ${name}: give a non-empty list of privileges`);
    }
    const out = new Set<Privilege>();
    for (const p of privs) {
      const lower = String(p).toLowerCase();
      if (!allowed.has(lower)) {
        throw new ConfigError(
          `role ${spec.role}: grant on ${name}: unknown privilege ${JSON.stringify(p)} ` +
            `(tables: ${TABLE_PRIVILEGES.join(', ')}; sequences: ${SEQUENCE_PRIVILEGES.join(', ')})`,
        );
      }
      out.add(lower as Privilege);
    }
    grants[name] = [...out].sort();
  }
  return { role: spec.role, memberOf: [...new Set(spec.memberOf)].sort(), grants };
}
