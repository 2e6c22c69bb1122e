// A replicated table's place in the copy state machine, as stored in londiste.table_info.merge_state
// (same strings as the original, so either tool can take over a node):
//
//   NULL ──main──▶ in-copy ──copy──▶ catching-up ──copy──▶ wanna-sync:W ──main──▶ do-sync:M ──copy──▶ ok
//
//   in-copy      the copy job loads the rows (one provider snapshot) — replay skips the table
//   catching-up  the copy job replays the table's events from its own position, skipping those its
//                snapshot already contained — the main worker still skips the table
//   wanna-sync:W the copy job caught up at tick W and waits for the main worker to reach W
//   do-sync:M    the main worker is at tick M and waits; the copy job replays up to M, then sets ok
//   ok           the main worker replays the table (skipping events the copy snapshot contained,
//                until no batch can hold such events any more)
import { LondisteError } from './errors.ts';
import { TxidSnapshot } from './snapshot.ts';

export type TableStateName = 'missing' | 'in-copy' | 'catching-up' | 'wanna-sync' | 'do-sync' | 'ok';

export interface MergeState {
  state: TableStateName;
  /** wanna-sync / do-sync: the tick. */
  tick?: bigint;
}

export function parseMergeState(s: string | null): MergeState {
  if (s == null) return { state: 'missing' };
  if (s === 'in-copy' || s === 'catching-up' || s === 'ok') return { state: s };
  if (s === '?') return { state: 'ok' }; // the original's marker for "state unknown, assume replicated"
  const m = /^(wanna-sync|do-sync):(\d+)$/.exec(s);
  if (m?.[2]) return { state: m[1] as 'wanna-sync' | 'do-sync', tick: BigInt(m[2]) };
  throw new LondisteError('state', `bad table state ${JSON.stringify(s)}`);
}

export function renderMergeState(m: MergeState): string | null {
  switch (m.state) {
    case 'missing':
      return null;
    case 'wanna-sync':
    case 'do-sync':
      return `${m.state}:${m.tick ?? 0n}`;
    default:
      return m.state;
  }
}

/** One row of londiste.get_table_list, as replay needs it. */
export interface TableRow {
  tableName: string;
  local: boolean;
  mergeState: string | null;
  customSnapshot: string | null;
  tableAttrs: Record<string, string | null>;
  droppedDdl: string | null;
  copyRole: string | null;
  copyPos: number;
  destTable: string | null;
}

export class TableState {
  readonly name: string;
  destTable: string;
  merge: MergeState;
  snapshot: TxidSnapshot | null;
  attrs: Record<string, string | null>;
  droppedDdl: string | null;
  copyRole: string | null;
  copyPos: number;

  constructor(row: TableRow) {
    this.name = row.tableName;
    this.destTable = row.destTable || row.tableName;
    this.merge = parseMergeState(row.mergeState);
    this.snapshot = row.customSnapshot ? new TxidSnapshot(row.customSnapshot) : null;
    this.attrs = row.tableAttrs;
    this.droppedDdl = row.droppedDdl;
    this.copyRole = row.copyRole;
    this.copyPos = row.copyPos;
  }

  get state(): TableStateName {
    return this.merge.state;
  }

  get mergeStateText(): string | null {
    return renderMergeState(this.merge);
  }

  /** Is the copy of this table underway (a copy job should be alive for it)? */
  get copying(): boolean {
    return this.state === 'in-copy' || this.state === 'catching-up' || this.state === 'wanna-sync' || this.state === 'do-sync';
  }

  /**
   * Does this worker apply the event's change to the table? The main worker replays tables that
   * are ok, the copy job only its own table while catching up or in do-sync; either skips an event
   * whose transaction the copy's snapshot already contained.
   */
  wants(txid: bigint | null, copyOf: string | null): boolean {
    if (copyOf == null) {
      if (this.state !== 'ok') return false;
    } else if (this.name !== copyOf || (this.state !== 'catching-up' && this.state !== 'do-sync')) {
      return false;
    }
    if (this.snapshot && txid != null && this.snapshot.contains(txid)) return false;
    return true;
  }
}
