// The per-key collection of the bulk loaders (the original's bulk.py prepare_data and dispatch.py
// OP_GRAPH, which agree): each key's events of the batch reduce to one final operation and its
// last row — I…D of a row born and gone within the batch to nothing, D…I to an update, I…U to an
// insert of the last version, U…D to a delete. An update of a table whose every column is a key
// column changes nothing and is dropped.
import type { ChangeOp, Row } from '../events.ts';

type State = ChangeOp | '.';

const GRAPH: Record<State | 'none', Partial<Record<ChangeOp, State>>> = {
  none: { I: 'I', U: 'U', D: 'D' },
  I: { D: '.' },
  U: { D: 'D' },
  D: { I: 'U' },
  '.': { I: 'I' },
};

export interface Collected {
  I: Row[];
  U: Row[];
  D: Row[];
}

export class KeyCollector {
  private readonly byKey = new Map<string, { op: State; row: Row }>();
  /** Column names of the latest row (the loaders write these columns). */
  fields: string[] = [];

  readonly key: readonly string[];

  constructor(key: readonly string[]) {
    this.key = key;
  }

  get size(): number {
    return this.byKey.size;
  }

  add(op: ChangeOp, row: Row): void {
    const k = JSON.stringify(this.key.map((c) => row[c] ?? null));
    const prev = this.byKey.get(k);
    const next = GRAPH[prev?.op ?? 'none'][op] ?? (prev?.op as State);
    this.fields = Object.keys(row);
    if (next === 'U' && this.fields.every((f) => this.key.includes(f))) {
      this.byKey.delete(k);
      return;
    }
    // Re-inserting keeps the key's place: the map's order is the first event's order.
    this.byKey.set(k, { op: next, row });
  }

  collect(): Collected {
    const out: Collected = { I: [], U: [], D: [] };
    for (const { op, row } of this.byKey.values()) if (op !== '.') out[op].push(row);
    return out;
  }

  clear(): void {
    this.byKey.clear();
  }
}
