// execute FILE…: DDL run on the root and sent to every node as an EXECUTE event, once per file
// name (londiste.applied_execute), as the original's cmd_execute: in one transaction, with
// session_replication_role 'local' (londiste's own triggers do not fire for the DDL), each file
// execute_start → (the statements, when its attributes match this node) → execute_finish. Every
// file is read and its attributes parsed before the transaction starts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inTransaction } from '../db/transaction.ts';
import type { LondisteContext } from './admin-context.ts';
import { ExecAttrs, type LocalObjects } from './admin-exec-attrs.ts';
import type { CommandResult } from './admin-tables.ts';
import { LondisteError } from './errors.ts';
import { executeFinish, executeStart, getSeqList, getTableList } from './tables.ts';

export async function executeFiles(ctx: LondisteContext, files: readonly string[]): Promise<CommandResult> {
  const s = ctx.s;
  const q = s.queue;
  if (!files.length) throw new LondisteError('usage', 'execute needs one or more SQL files');
  const scripts = files.map((f) => {
    let sql: string;
    try {
      sql = readFileSync(f, 'utf8');
    } catch (err) {
      throw new LondisteError('usage', `cannot read ${f}: ${(err as Error).message}`, { cause: err });
    }
    return { file: f, name: path.basename(f), sql, attrs: ExecAttrs.fromSql(sql) };
  });
  await s.loadLocal();
  if (s.localInfo.nodeType !== 'root')
    throw new LondisteError(
      'state',
      `execute runs on the root; ${s.localName} is a ${s.localInfo.nodeType} (use the root's ini)`,
    );
  const db = await s.local();
  const res: CommandResult = { notes: [], warnings: [] };
  await inTransaction(db, async () => {
    const tables = (await getTableList(db, q)).filter((t) => t.local);
    const local: LocalObjects = {
      tables: new Map(tables.map((t) => [t.tableName, t.destTable ?? t.tableName])),
      seqs: new Map(
        (await getSeqList(db, q)).filter((x) => x.local).map((x) => [x.seqName, x.seqName] as const),
      ),
    };
    await db.query("select londiste.set_session_replication_role('local', true)");
    for (const sc of scripts) {
      const r = await executeStart(db, q, sc.name, sc.sql, true, sc.attrs.toUrlenc());
      if (r.ret_code > 200) {
        res.warnings.push(`${sc.name}: ${r.ret_note}`);
        s.log.warn(`skipping execution of ${sc.name}: ${r.ret_note}`);
        continue;
      }
      if (await sc.attrs.needExecute(db, local)) {
        s.log.info(`${sc.name}: executing sql`);
        await db.query(sc.attrs.processSql(sc.sql, local));
      } else s.log.info(`${sc.name}: this SQL does not need to run on this node`);
      res.notes.push((await executeFinish(db, q, sc.name)).ret_note);
    }
  });
  return res;
}
