// The sequence commands of the setup: add-seq and remove-seq (the original's cmd_add_seq /
// cmd_remove_seq), each in one transaction on this node after every name is checked.
import type { Queryable } from '../db/transaction.ts';
import { inTransaction } from '../db/transaction.ts';
import { addUnlessWorkerDid, type LondisteContext, registers } from './admin-context.ts';
import { sequenceDdl, sequenceExists } from './admin-create.ts';
import { expandNames } from './admin-names.ts';
import type { CommandResult } from './admin-tables.ts';
import { LondisteError } from './errors.ts';
import {
  getSeqList,
  globalRemoveSeq,
  globalUpdateSeq,
  localAddSeq,
  localRemoveSeq,
  localShowMissing,
  type SeqInfo,
} from './tables.ts';

/** The provider's sequences as this node should know them (register_only/skip_seqs apply). */
export async function syncSeqList(
  ctx: LondisteContext,
  dst: Queryable,
  src: readonly SeqInfo[],
  dstList: readonly SeqInfo[],
): Promise<void> {
  const q = ctx.s.queue;
  const have = new Set(dstList.map((x) => x.seqName));
  const there = new Set(src.map((x) => x.seqName));
  for (const x of src) {
    if (have.has(x.seqName)) continue;
    if (!registers(ctx.cfg.registerOnlySeqs, ctx.cfg.registerSkipSeqs, x.seqName)) continue;
    ctx.s.log.info(`sequence ${x.seqName} info missing from this node, adding`);
    await addUnlessWorkerDid(dst, () => globalUpdateSeq(dst, q, x.seqName, x.lastValue));
  }
  for (const x of dstList) {
    if (there.has(x.seqName)) continue;
    ctx.s.log.info(`sequence ${x.seqName} gone on the provider but registered here, removing`);
    await globalRemoveSeq(dst, q, x.seqName);
  }
}

export async function addSeqs(
  ctx: LondisteContext,
  args: readonly string[],
  o: { all?: boolean; force?: boolean; create?: boolean; createFull?: boolean; skipNonExisting?: boolean },
): Promise<CommandResult> {
  const s = ctx.s;
  const q = s.queue;
  const res: CommandResult = { notes: [], warnings: [] };
  const warn = (m: string) => {
    res.warnings.push(m);
    s.log.warn(m);
  };
  await s.loadLocal();
  const isRoot = s.localInfo.nodeType === 'root';
  const dst = await s.local();
  const src = isRoot ? dst : await s.providerDb();
  const srcSeqs = isRoot ? null : await getSeqList(src, q);
  const create = o.create === true || o.createFull === true;
  await inTransaction(dst, async () => {
    if (srcSeqs) await syncSeqList(ctx, dst, srcSeqs, await getSeqList(dst, q));
    const local = (await getSeqList(dst, q)).filter((x) => x.local).map((x) => x.seqName);
    const missing = (await localShowMissing(dst, q)).filter((m) => m.kind === 'S').map((m) => m.name);
    const picked = expandNames({
      args,
      all: o.all,
      candidates: missing,
      done: local,
      force: o.force,
      what: 'sequence',
      hint: isRoot
        ? 'no such sequence in this database'
        : 'not in the set: add it on the root first; see "missing"',
    });
    for (const w of picked.warnings) warn(w);
    for (const a of picked.already) res.notes.push(`Sequence already added: ${a}`);
    for (const seq of picked.names) {
      const exists = await sequenceExists(dst, seq);
      if (create && !exists) {
        if (!(await sequenceExists(src, seq))) {
          warn(`sequence ${seq} missing on the provider, skipping`);
          continue;
        }
        for (const stmt of await sequenceDdl(src, seq, null)) await dst.query(stmt);
        s.log.info(`sequence ${seq} created`);
      } else if (!exists) {
        if (o.skipNonExisting) {
          warn(`sequence ${seq} missing on this node, skipping`);
          continue;
        }
        throw new LondisteError(
          'not_found',
          `sequence ${seq} does not exist on this node: create it, or use --create (or --skip-non-existing)`,
        );
      }
      const r = await localAddSeq(dst, q, seq);
      (r.ret_code >= 300 ? warn : (m: string) => res.notes.push(m))(r.ret_note);
    }
  });
  return res;
}

export async function removeSeqs(
  ctx: LondisteContext,
  args: readonly string[],
  o: { all?: boolean },
): Promise<CommandResult> {
  const s = ctx.s;
  const res: CommandResult = { notes: [], warnings: [] };
  await s.loadLocal();
  const db = await s.local();
  await inTransaction(db, async () => {
    const list = await getSeqList(db, s.queue);
    const picked = expandNames({
      args,
      all: o.all,
      candidates: list.filter((x) => x.local).map((x) => x.seqName),
      done: list.filter((x) => !x.local).map((x) => x.seqName),
      what: 'sequence',
      hint: 'not registered on this node; see "seqs"',
    });
    for (const a of picked.already) res.notes.push(`Sequence not local: ${a}`);
    for (const x of picked.names) res.notes.push((await localRemoveSeq(db, s.queue, x)).ret_note);
  });
  return res;
}
