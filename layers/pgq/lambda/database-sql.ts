// Statements declared in the CDK app, run as the database's admin user (the master secret) by the
// admin custom resource (Action `sql`): what a deployment needs in the database before its
// functions' login roles can be applied — the tables they are granted, the group roles they join,
// a schema privilege. All in one transaction (a failing statement leaves nothing half done and
// fails the deploy with its error), taking turns with the role changes (GRANTs on one object at
// once fail with "tuple concurrently updated"). Run on Create and on every Update (CloudFormation
// sends one only when the statements changed), so they must be safe to run again (`if not
// exists`, a `do` block that ignores duplicate_object); never undone on Delete: dropping a table
// is the operator's decision, not a stack's.
import type pg from 'pg';
import { ConfigError } from '../../config/settings.ts';
import { inTransaction } from '../../db/transaction.ts';
import { takeRoleTurn } from './roles.ts';

/** The resource's `Statements` property: a list of SQL strings (or its JSON text). */
export function parseStatements(v: unknown): string[] {
  const list = typeof v === 'string' ? safeJson(v) : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || !s.trim()))
    throw new ConfigError('sql: Statements must be a list of non-empty SQL strings');
  return list as string[];
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Runs the statements in order in one transaction; returns how many ran. */
export async function applyDatabaseSql(
  client: pg.ClientBase,
  statements: readonly string[],
): Promise<number> {
  return inTransaction(client, async () => {
    await takeRoleTurn(client);
    for (const [i, sql] of statements.entries()) {
      try {
        await client.query(sql);
      } catch (err) {
        throw new ConfigError(
          `sql: statement ${i + 1} failed: ${(err as Error).message}: ${sql.slice(0, 200)}`,
          {
            cause: err,
          },
        );
      }
    }
    return statements.length;
  });
}
