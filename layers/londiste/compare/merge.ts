// The sorted merge of repair: two COPY text streams of the same columns in the same key order
// (sql-text.ts mergeOrder), walked side by side; a key on the provider only is an insert, on the
// subscriber only a delete, on both with different text an update of the columns that differ.
// Rows with equal text are equal (both sessions render values alike). Pure apart from reading
// the two CopyLines; memory is the two current chunks. Lines with equal text are equal rows; the
// caller decides what a line holds (repair: the key and a row hash, then fetches the rows).
import { type CopyLines, compareCodePoints, compareIntText, decodeField } from './copy-text.ts';
import type { KeyColumn } from './sql-text.ts';

/** A difference with the raw (still escaped) fields of each side's line. */
export type RowDiff =
  | { op: 'insert'; p: string[] }
  | { op: 'delete'; s: string[] }
  | { op: 'update'; p: string[]; s: string[] };

export interface MergeStats {
  providerRows: number;
  subscriberRows: number;
  inserts: number;
  updates: number;
  deletes: number;
}

/** Key comparison of two lines' fields: `keyIdx` the key columns' positions, in key order. */
export function keyComparer(key: readonly KeyColumn[], keyIdx: readonly number[]) {
  const cmps = key.map((k) => (k.integer ? compareIntText : compareCodePoints));
  return (a: string[], b: string[]): number => {
    for (let i = 0; i < keyIdx.length; i++) {
      const x = a[keyIdx[i]!]!;
      const y = b[keyIdx[i]!]!;
      if (x === y) continue;
      const c = cmps[i]!(decodeField(x) ?? '', decodeField(y) ?? '');
      if (c !== 0) return c;
    }
    return 0;
  };
}

/**
 * Walks both streams in key order; `emit` is awaited (a full output stream or a fetch of the
 * differing rows holds the merge, and with it the reading of both streams).
 */
export async function mergeCopies(
  provider: CopyLines,
  subscriber: CopyLines,
  key: readonly KeyColumn[],
  keyIdx: readonly number[],
  emit: (d: RowDiff) => Promise<void> | void,
): Promise<MergeStats> {
  const stats: MergeStats = { providerRows: 0, subscriberRows: 0, inserts: 0, updates: 0, deletes: 0 };
  const compare = keyComparer(key, keyIdx);
  for (;;) {
    if (provider.needsFill) await provider.fill();
    if (subscriber.needsFill) await subscriber.fill();
    const p = provider.current;
    const s = subscriber.current;
    if (p === null && s === null) break;
    if (p !== null && s !== null && p === s) {
      provider.advance();
      subscriber.advance();
      continue;
    }
    const pf = p === null ? null : p.split('\t');
    const sf = s === null ? null : s.split('\t');
    const c = pf === null ? 1 : sf === null ? -1 : compare(pf, sf);
    if (c < 0) {
      stats.inserts++;
      await emit({ op: 'insert', p: pf! });
      provider.advance();
    } else if (c > 0) {
      stats.deletes++;
      await emit({ op: 'delete', s: sf! });
      subscriber.advance();
    } else {
      stats.updates++;
      await emit({ op: 'update', p: pf!, s: sf! });
      provider.advance();
      subscriber.advance();
    }
  }
  stats.providerRows = provider.rows;
  stats.subscriberRows = subscriber.rows;
  return stats;
}
