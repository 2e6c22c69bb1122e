// compare and repair on a leaf whose provider is a branch (root → branch → leaf): the branch's
// snapshot is taken at the tick its worker completed, the leaf's at the same tick; equal under
// writes at the root, drift on the leaf found and repaired.
import { describe, expect, it } from 'vitest';
import { LondisteAdmin } from '../../layers/londiste/admin.ts';
import { compareTables } from '../../layers/londiste/compare/compare.ts';
import { repairTables } from '../../layers/londiste/compare/repair.ts';
import { silentLogger } from '../../layers/util/log.ts';
import { useLondisteSet } from './replication.ts';

describe('londiste compare with a branch as provider', () => {
  const f = useLondisteSet(['root', 'branch', 'leaf']);

  const onLeaf = async <T>(fn: (o: { s: ReturnType<LondisteAdmin['compareContext']> }) => Promise<T>) => {
    const a = new LondisteAdmin({ queue: f.s.queue, localLocation: f.s.db('leaf').url });
    try {
      return await fn({ s: a.compareContext() });
    } finally {
      await a.close();
    }
  };
  const compare = () =>
    onLeaf(({ s }) =>
      compareTables({ s: s.s, localLocation: f.s.db('leaf').url, tables: [], log: silentLogger }),
    );

  it('compares at the branch worker’s tick, under writes, and repairs drift', async () => {
    const { s } = f;
    for (const db of ['root', 'branch', 'leaf'])
      await s.db(db).query('create table public.t (id bigint primary key, v text, n int)');
    await s.db('root').query("insert into t select g, 'v' || g, 0 from generate_series(1, 3000) g");
    await s.build('root', [
      ['branch', 'branch', 'root'],
      ['leaf', 'leaf', 'branch'],
    ]);
    s.startAll();
    await s.addTable('root', 'public.t');
    for (const node of ['branch', 'leaf']) {
      await s.knows(node, 'public.t');
      await s.addTable(node, 'public.t');
      await s.waitOk(node, 'public.t');
    }
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        // away from the rows drifted below: replaying an update of one would heal it
        await s.db('root').query('update t set n = n + 1 where id = $1', [1001 + (i % 2000)]);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      for (let k = 0; k < 3; k++) {
        const r = await compare();
        expect(r.tables[0], JSON.stringify(r.tables[0])).toMatchObject({ table: 'public.t', equal: true });
      }
      await s
        .db('leaf')
        .query(
          'begin; set local session_replication_role = replica; delete from t where id = 42; update t set v = null where id = 43; commit',
        );
      const r = await compare();
      expect(r.differ).toBe(1);
      const fixed = await onLeaf(({ s: c }) =>
        repairTables({ s: c.s, localLocation: s.db('leaf').url, tables: [], apply: true, log: silentLogger }),
      );
      expect(fixed.tables[0]).toMatchObject({ inserts: 1, updates: 1, deletes: 0 });
      expect((await compare()).differ).toBe(0);
    } finally {
      stop = true;
      await writer;
    }
  }, 180_000);
});
