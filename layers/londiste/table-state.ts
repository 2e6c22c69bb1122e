// A replicated table as the replay worker and the copy job see it during one step: its row of
// londiste.get_table_list with the copy snapshot parsed, and which events each of them applies.
//
//   NULL ──main──▶ in-copy ──copy──▶ catching-up ──copy──▶ wanna-sync:W ──main──▶ do-sync:M ──copy──▶ ok
//
//   in-copy      the copy job loads the rows (one provider snapshot) — replay skips the table
//   catching-up  the copy job replays the table's events from its own position, skipping those its
//                snapshot already contained — the main worker still skips the table
//   wanna-sync:W the copy job is (nearly) caught up at tick W and waits for the main worker
//   do-sync:M    the main worker holds its batch ending at M; the copy job replays up to M, sets ok
//   ok           the main worker replays the table (skipping events the copy snapshot contained,
//                until no batch can hold such events any more)
import { TxidSnapshot } from './snapshot.ts';
import type { TableInfo, TableState, TableStateName } from './tables.ts';
import { renderMergeState } from './tables.ts';
import type { UrlencRow } from './urlenc.ts';

export class ReplayTable {
  readonly name: string;
  readonly destTable: string;
  state: TableState;
  snapshot: TxidSnapshot | null;
  attrs: UrlencRow;
  readonly droppedDdl: string | null;
  /** A merged table's part: lead / wait-copy / wait-replay while parts copy (get_table_list). */
  readonly copyRole: string | null;

  constructor(row: TableInfo) {
    this.name = row.tableName;
    this.destTable = row.destTable || row.tableName;
    this.state = row.state;
    this.snapshot = row.customSnapshot ? new TxidSnapshot(row.customSnapshot) : null;
    this.attrs = row.tableAttrs;
    this.droppedDdl = row.droppedDdl;
    this.copyRole = row.copyRole;
  }

  get stateName(): TableStateName {
    return this.state.name;
  }

  /** The handover tick of wanna-sync / do-sync (0 otherwise). */
  get syncTick(): bigint {
    return 'tick' in this.state ? this.state.tick : 0n;
  }

  get mergeState(): string | null {
    return renderMergeState(this.state);
  }

  /** Is the copy underway (a copy job should be alive for it)? */
  get copying(): boolean {
    const s = this.state.name;
    return s === 'in-copy' || s === 'catching-up' || s === 'wanna-sync' || s === 'do-sync';
  }

  /** Marked failed on this node (replay skips it until resync clears the mark). */
  get failed(): string | null {
    return this.attrs.error ?? null;
  }

  /**
   * Does this worker apply the event's change? The main worker replays tables that are ok, the
   * copy job only its own table while catching up or in do-sync; either skips an event whose
   * transaction the copy's snapshot already contained (its effect is in the copied rows).
   */
  wants(ev: { readonly txid: bigint | null }, copyOf: string | null): boolean {
    const s = this.state.name;
    if (copyOf == null) {
      if (s !== 'ok') return false;
    } else if (this.name !== copyOf || (s !== 'catching-up' && s !== 'do-sync')) {
      return false;
    }
    if (!this.snapshot) return true;
    const txid = ev.txid; // parsed only here: most tables have no copy snapshot to check
    return txid == null || !this.snapshot.contains(txid);
  }
}
