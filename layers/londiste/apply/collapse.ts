// Collapsing one table's row changes (in event order, all naming the same key columns) to what
// must be written per key, so a batch is applied with a few set-based statements whose result
// equals running the events one statement at a time:
//
//   event    | nothing   insert(r)        replace(r)        update(r)          delete
//   ---------+-------------------------------------------------------------------------------
//   I(n)     | insert(n) insert(n)        replace(n)        insert(n)          replace(n)
//   U(n)     | update(n) insert(r ⊕ n)    replace(r ⊕ n)    update(r ⊕ n)      delete
//   D        | delete    delete           delete            delete             delete
//
// (r ⊕ n: the columns of r overwritten by those of n — a partial update merges, a full row
// replaces.) `replace` is a DELETE followed by an INSERT, so the columns the event does not carry
// get their defaults exactly as after the original's delete + insert. An U after a D stays a
// delete: the original's UPDATE finds no row. An I over an existing row (not a sequence a provider
// can produce) becomes an upsert instead of the original's unique violation. A key change
// (U with oldKey) is D on the old key, then I of the new row on the new key.
// A key holding NULL never equals anything: an I with a NULL key value is inserted as is, an U or
// D with one matches no row (WHERE k = NULL), so it is dropped.
import type { Row, RowChange } from '../events.ts';
import { emptyRow } from '../urlenc.ts';

export type Action = 'insert' | 'replace' | 'update' | 'delete';

export interface Pending {
  action: Action;
  /** Key values in key column order. */
  key: (string | null)[];
  /** The row to write (insert / replace / update); null for delete. */
  row: Row | null;
}

export interface Collapsed {
  /** One entry per key, in first-touch order. */
  entries: Pending[];
  /** Inserts whose key holds a NULL (they never collide with any key), in event order. */
  keyless: Row[];
}

function merge(a: Row, b: Row): Row {
  return Object.assign(emptyRow<Row>(), a, b);
}

/** Key values → a map key; undefined when one is NULL. Text never holds NUL, so it separates. */
function identity(key: (string | null)[]): string | undefined {
  if (key.length === 1) return key[0] ?? undefined;
  for (const v of key) if (v === null) return undefined;
  return key.join('\0');
}

export function collapse(changes: readonly RowChange[], keyCols: readonly string[]): Collapsed {
  const map = new Map<string, Pending>();
  const keyless: Row[] = [];

  const insert = (keyVals: (string | null)[], row: Row) => {
    const id = identity(keyVals);
    if (id === undefined) {
      keyless.push(row);
      return;
    }
    const p = map.get(id);
    if (!p) map.set(id, { action: 'insert', key: keyVals, row });
    else if (p.action === 'delete' || p.action === 'replace') {
      p.action = 'replace';
      p.row = row;
    } else {
      p.action = 'insert';
      p.row = row;
    }
  };
  const del = (keyVals: (string | null)[]) => {
    const id = identity(keyVals);
    if (id === undefined) return;
    const p = map.get(id);
    if (!p) map.set(id, { action: 'delete', key: keyVals, row: null });
    else {
      p.action = 'delete';
      p.row = null;
    }
  };

  const single = keyCols.length === 1 ? keyCols[0]! : null;
  for (const ch of changes) {
    // one key column (the usual case): no array per change
    const keyVals = single === null ? keyCols.map((k) => ch.row[k] ?? null) : [ch.row[single] ?? null];
    if (ch.op === 'I') insert(keyVals, ch.row);
    else if (ch.op === 'D') del(keyVals);
    else if (ch.oldKey) {
      del(ch.oldKey);
      insert(keyVals, ch.row);
    } else {
      const id = identity(keyVals);
      if (id === undefined) continue;
      const p = map.get(id);
      if (!p) map.set(id, { action: 'update', key: keyVals, row: ch.row });
      else if (p.action !== 'delete') p.row = merge(p.row!, ch.row);
    }
  }
  return { entries: [...map.values()], keyless };
}
