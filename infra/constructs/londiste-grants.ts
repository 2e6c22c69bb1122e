// What a Londiste node's login role may do to the node's tables and sequences, from the node's
// type: a provider (root, branch) gets its tables' triggers created by the set-up and its rows read
// by the copy jobs of the nodes below (they log in to it with its login); a subscriber (branch,
// leaf) has rows written by replay and tables truncated and loaded by its copy jobs. Pure, so
// synth checks it like any other role spec (layers/pgq/lambda/role-spec.ts).
import type { Privilege, RelationGrants } from '../../layers/pgq/lambda/role-spec.ts';

export type LondisteNodeType = 'root' | 'branch' | 'leaf';

/** A replicated table as the set-up custom resource takes it (property `Tables`). */
export interface LondisteTable {
  /** The table on the provider, schema-qualified (`public.orders`). */
  readonly name: string;
  /** Handler name (layers/londiste/handlers). @default 'londiste' */
  readonly handler?: string;
  /** Handler arguments, e.g. `{ ignore_truncate: '1' }`. @default none */
  readonly handlerArgs?: Readonly<Record<string, string>>;
  /** Where the rows go on this node, schema-qualified. @default the same name */
  readonly destTable?: string;
  /**
   * Below the root: when the table is missing on this node, the set-up creates it from the
   * provider's definition (add-table --create-full: columns, defaults, primary key, unique/check
   * constraints, indexes; no foreign keys), owned by `tableOwner`. Its privileges come from that
   * ownership, so the login gets no grants on it (it does not exist when the login is made).
   * @default false (the table must exist before the deploy)
   */
  readonly create?: boolean;
}

const PROVIDER_TABLE: readonly Privilege[] = ['select', 'trigger'];
const SUBSCRIBER_TABLE: readonly Privilege[] = ['select', 'insert', 'update', 'delete', 'truncate'];
const PROVIDER_SEQUENCE: readonly Privilege[] = ['select'];
// setval() of replayed sequence values needs update.
const SUBSCRIBER_SEQUENCE: readonly Privilege[] = ['usage', 'select', 'update'];

/** The grants of a node's login on its own database. */
export function londisteGrants(
  nodeType: LondisteNodeType,
  tables: readonly LondisteTable[],
  sequences: readonly string[],
): RelationGrants {
  const grants: Record<string, Privilege[]> = {};
  const add = (name: string, privs: readonly Privilege[]) => {
    grants[name] = [...new Set([...(grants[name] ?? []), ...privs])];
  };
  const provider = nodeType !== 'leaf';
  const subscriber = nodeType !== 'root';
  for (const t of tables) {
    // Created by the set-up, owned by the group role the login is a member of.
    if (subscriber && t.create) continue;
    // A branch's own queue gets the table's events from its triggers too, on its own table name.
    const local = t.destTable ?? t.name;
    if (provider) add(local, PROVIDER_TABLE);
    if (subscriber) add(local, SUBSCRIBER_TABLE);
  }
  for (const s of sequences) {
    if (provider) add(s, PROVIDER_SEQUENCE);
    if (subscriber) add(s, SUBSCRIBER_SEQUENCE);
  }
  return grants;
}

/** Tables given as names or objects, as objects. */
export function normalizeTables(tables: readonly (string | LondisteTable)[]): LondisteTable[] {
  return tables.map((t) => (typeof t === 'string' ? { name: t } : t));
}
