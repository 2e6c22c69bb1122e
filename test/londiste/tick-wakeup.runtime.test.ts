// Workers wake on the provider's tick notification instead of sleeping out their loop delay: with
// a 60 s loop delay on branch and leaf, a row written on the root still reaches the leaf in
// seconds (the root's ticker and the branch's worker both NOTIFY each tick).
import { describe, expect, it } from 'vitest';
import { useLondisteSet, waitUntil } from './replication.ts';

describe('tick wake-ups (root → branch → leaf)', () => {
  const f = useLondisteSet(['root', 'branch', 'leaf']);
  const T = 'public.wake';

  it('replicates a table down the cascade', async () => {
    const { s } = f;
    for (const n of ['root', 'branch', 'leaf']) await s.db(n).query(`create table ${T} (id int primary key)`);
    await s.build('root', [
      ['branch', 'branch', 'root'],
      ['leaf', 'leaf', 'branch'],
    ]);
    s.startAll();
    await s.replicate(T, ['branch', 'leaf']);
  });

  it('a row reaches the leaf long before a 60 s loop delay would let it', async () => {
    const { s } = f;
    for (const n of ['branch', 'leaf']) {
      await s.stopWorker(n);
      s.patch[n] = { loopDelayMs: 60_000 };
      s.startWorker(n);
    }
    // let both workers go idle (into their long wait)
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    await s.db('root').query(`insert into ${T} values (1)`);
    await waitUntil(
      'the row on the leaf',
      async () => (await s.db('leaf').query(`select 1 from ${T} where id = 1`)).rows.length === 1,
      30_000,
    );
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});
