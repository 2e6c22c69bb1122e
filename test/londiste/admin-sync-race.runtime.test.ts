// A setup command on a branch or leaf first registers what its provider has (syncSeqList,
// syncTableList); this node's worker, replaying the provider's own add event, may insert the same
// row at the same moment. addUnlessWorkerDid takes that unique violation as done — the command
// waits for the worker's transaction, then goes on in its own — and lets every other error
// through with the transaction still usable for the error's report. (Seen in CI: `add-seq` on a
// leaf failed on a duplicate key in londiste.seq_info.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUnlessWorkerDid } from '../../layers/londiste/admin-context.ts';
import { createDatabase, type TestDb } from '../support/db.ts';

describe('a setup command racing the worker for the same registration', () => {
  let db: TestDb & { drop(): Promise<void> };
  beforeAll(async () => {
    db = await createDatabase({ empty: true });
    await db.query('create table reg (name text primary key, v int)');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('waits for the worker, takes its row, and commits the rest of its work', async () => {
    const worker = await db.connect();
    const command = await db.connect();
    try {
      await worker.query('begin');
      await worker.query("insert into reg values ('public.order_no', 1)"); // not committed yet
      await command.query('begin');
      const adding = addUnlessWorkerDid(command, () =>
        command.query("insert into reg values ('public.order_no', 2)"),
      );
      await new Promise((r) => setTimeout(r, 200)); // the insert now waits on the worker's row
      await worker.query('commit');
      await adding;
      await command.query("insert into reg values ('public.other', 3)");
      await command.query('commit');
      const rows = (await db.query('select name, v from reg order by name')).rows;
      expect(rows).toEqual([
        { name: 'public.order_no', v: 1 },
        { name: 'public.other', v: 3 },
      ]);
    } finally {
      await worker.end();
      await command.end();
    }
  });

  it('lets any other error through', async () => {
    const c = await db.connect();
    try {
      await c.query('begin');
      await expect(
        addUnlessWorkerDid(c, () => c.query('insert into reg values (null, 1)')),
      ).rejects.toMatchObject({
        code: '23502',
      });
      await c.query('rollback');
    } finally {
      await c.end();
    }
  });
});
