// A txid snapshot as PostgreSQL prints it (`xmin:xmax:xip,xip`), for the one question replay asks
// of a table copy's snapshot: was this event's transaction already visible to the copy (then its
// effect is in the copied rows and replay must skip it)?
import { LondisteError } from './errors.ts';

export class TxidSnapshot {
  readonly xmin: bigint;
  readonly xmax: bigint;
  private readonly inProgress: ReadonlySet<bigint>;

  readonly text: string;

  constructor(text: string) {
    this.text = text;
    const m = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
    if (!m?.[1] || !m[2]) throw new LondisteError('state', `invalid txid snapshot ${JSON.stringify(text)}`);
    this.xmin = BigInt(m[1]);
    this.xmax = BigInt(m[2]);
    this.inProgress = new Set(m[3] ? m[3].split(',').map((x) => BigInt(x)) : []);
  }

  /** True when the transaction had committed (or aborted) before the snapshot was taken. */
  contains(txid: bigint): boolean {
    if (txid < this.xmin) return true;
    if (txid >= this.xmax) return false;
    return !this.inProgress.has(txid);
  }
}
