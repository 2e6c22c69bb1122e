// Merge-leaf nodes under a combined branch (the original's wait_behind): two partition roots
// (r1, r2) feed m, a merge-leaf of both and the root of the combined queue comb; b is a branch of
// comb and a merge-leaf of both partitions too, f a leaf of comb below b. The rows reach b and f
// through comb; b's merge-leaves apply nothing and only follow — their partition position is what
// b's comb worker sets from the pgq.tick-id events, and their batches at the partition roots are
// finished only once that position has passed them. b's comb worker runs as its own process and
// is killed -9 with a batch's table events applied but not committed; restarted, it applies
// nothing twice (an insert applied twice would stop it on the primary key; the sums would differ).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { createDatabase } from '../support/db.ts';
import { LondisteSet, waitUntil } from './replication.ts';

type Db = Awaited<ReturnType<typeof createDatabase>>;
type Node = 'r1' | 'r2' | 'm' | 'b' | 'f';
const fixture = path.resolve(import.meta.dirname, 'fixtures/londiste-job.ts');

describe('merge-leaf nodes under a combined branch', () => {
  let dbs: Record<Node, Db>;
  let p1: LondisteSet;
  let p2: LondisteSet;
  let comb: LondisteSet;
  const procs: ChildProcess[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-mcb-'));
  beforeAll(async () => {
    const made = await Promise.all(Array.from({ length: 5 }, () => createDatabase()));
    for (const d of made) {
      const has = await d.query("select 1 from pg_namespace where nspname = 'londiste'");
      if (!has.rows.length) await install(await d.connect(), { manifest: 'londiste/install.sql' });
    }
    const [r1, r2, m, b, f] = made as [Db, Db, Db, Db, Db];
    dbs = { r1, r2, m, b, f };
    p1 = new LondisteSet({ r1, m, b }, 'part1');
    p2 = new LondisteSet({ r2, m, b }, 'part2');
    comb = new LondisteSet({ m, b, f }, 'comb');
  });
  afterAll(async () => {
    for (const p of procs) {
      try {
        if (p.pid) process.kill(-p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const s of [p1, p2, comb]) await s?.stopAll();
    await Promise.all(Object.values(dbs ?? {}).map((d) => d.drop()));
    rmSync(dir, { recursive: true, force: true });
  });

  const fingerprint = async (d: Db) =>
    (
      await d.query(
        `select count(*)::bigint as n, coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text as sum from public.t t`,
      )
    ).rows[0] as { n: bigint; sum: string };
  const knows = (d: Db, q: string) =>
    waitUntil(
      `${q} knows public.t`,
      async () =>
        (await d.query('select 1 from londiste.get_table_list($1) where table_name = $2', [q, 'public.t']))
          .rows.length > 0,
    );
  /** b's merge-leaf of `q`: its position on b and its subscription's last tick at the root. */
  const follower = async (q: 'part1' | 'part2') => {
    const root = q === 'part1' ? dbs.r1 : dbs.r2;
    // the root first: b's position only grows, so root ≤ b holds for the two reads too
    const atRoot = await root.one(
      'select last_tick from pgq.get_consumer_info($1, $2) where consumer_name = $2',
      [q, 'w_b'],
    );
    const onB = await dbs.b.one(
      'select last_tick_id from pgq_node.local_state where queue_name = $1 and consumer_name = $2',
      [q, 'w_b'],
    );
    return { atRoot: BigInt(atRoot.last_tick), onB: BigInt(onB.last_tick_id) };
  };
  const startCombWorkerOnB = (env: Record<string, string> = {}) => {
    const p = spawn(process.execPath, [fixture, dbs.b.url, 'comb', 'w_b'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...env },
      detached: true,
    });
    procs.push(p);
    return p;
  };

  it('passes both partitions on through the combined branch; its merge-leaves wait behind it', async () => {
    await comb.build('m', [
      ['b', 'branch', 'm'],
      ['f', 'leaf', 'b'],
    ]);
    for (const [s, root] of [
      [p1, 'r1'],
      [p2, 'r2'],
    ] as const) {
      await s.build(root, []);
      for (const node of ['m', 'b'] as const)
        await s.admin(node, (adm) =>
          adm.createNode('leaf', {
            nodeName: node,
            location: dbs[node].url,
            worker: `w_${node}`,
            provider: s.db(root).url,
            combinedQueue: 'comb',
          }),
        );
    }
    const info = await dbs.b.one('select combined_queue, combined_type from pgq_node.get_node_info($1)', [
      'part1',
    ]);
    expect(info).toMatchObject({ combined_queue: 'comb', combined_type: 'branch' });
    for (const d of Object.values(dbs))
      await d.query('create table public.t (id bigint primary key, v text, n int)');
    await dbs.r1.query("insert into t select g, 'r1 ' || g, g % 10 from generate_series(1, 5000) g");
    await dbs.r2.query("insert into t select g, 'r2 ' || g, g % 10 from generate_series(5001, 10000) g");
    await dbs.r1.query('select * from londiste.local_add_table($1, $2)', ['part1', 'public.t']);
    await dbs.r2.query('select * from londiste.local_add_table($1, $2)', ['part2', 'public.t']);
    p1.startTicker('r1');
    p2.startTicker('r2');
    comb.startTicker('m');
    for (const [s, nodes] of [
      [p1, ['r1', 'm', 'b']],
      [p2, ['r2', 'm', 'b']],
      [comb, ['m', 'f']],
    ] as const)
      for (const n of nodes) s.startWorker(n);
    const killFile = path.join(dir, 'kill');
    startCombWorkerOnB({ LONDISTE_KILL_AT: 'replay:applied', LONDISTE_KILL_FILE: killFile });

    await knows(dbs.m, 'part1');
    await knows(dbs.m, 'part2');
    let stop = false;
    let writes = 0;
    const writer = (d: Db, base: number, lo: number) =>
      (async () => {
        let i = 0;
        while (!stop) {
          await d.query("insert into t values ($1, 'new', 1)", [base + i]);
          await d.query("update t set v = v || '+', n = n + 1 where id = $1", [lo + ((i * 7919) % 5000)]);
          await d.query('delete from t where id = $1', [lo + ((i * 104729) % 5000)]);
          i++;
          writes++;
          await new Promise((r) => setTimeout(r, 3));
        }
      })();
    const writers = [writer(dbs.r1, 100_000, 1), writer(dbs.r2, 200_000, 5001)];
    // on m: both partitions and (add-table's recursion) the combined root's set
    const added = await dbs.m.one('select * from londiste.local_add_table($1, $2, $3)', [
      'part1',
      'public.t',
      ['merge_all'],
    ]);
    expect(added.ret_code).toBe(200);
    await waitUntil(
      'both parts ok on m',
      async () =>
        (await p1.tableState('m', 'public.t')) === 'ok' && (await p2.tableState('m', 'public.t')) === 'ok',
      120_000,
    );
    // b takes the merged table from comb (copied from m), f from b
    await knows(dbs.b, 'comb');
    expect(
      (await dbs.b.one('select * from londiste.local_add_table($1, $2)', ['comb', 'public.t'])).ret_code,
    ).toBe(200);
    await waitUntil('table ok on b', async () => (await comb.tableState('b', 'public.t')) === 'ok', 120_000);
    await knows(dbs.f, 'comb');
    await dbs.f.query('select * from londiste.local_add_table($1, $2)', ['comb', 'public.t']);
    await waitUntil('table ok on f', async () => (await comb.tableState('f', 'public.t')) === 'ok', 120_000);

    // kill b's comb worker inside a batch that applied table events, then start it again
    const behind: string[] = [];
    const watch = (async () => {
      while (!stop)
        for (const q of ['part1', 'part2'] as const) {
          const x = await follower(q);
          if (x.atRoot > x.onB) behind.push(`${q}: root ${x.atRoot} > b ${x.onB}`);
          await new Promise((r) => setTimeout(r, 20));
        }
    })();
    writeFileSync(killFile, '');
    await waitUntil('the kill at replay:applied', async () => !existsSync(killFile), 60_000);
    await waitUntil(
      'the killed worker gone',
      async () => procs[0]!.exitCode !== null || procs[0]!.signalCode !== null,
    );
    expect(procs[0]!.signalCode).toBe('SIGKILL');
    startCombWorkerOnB();
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all([...writers, watch]);
    expect(writes).toBeGreaterThan(20);

    await p1.caughtUp('m', 'r1');
    await p2.caughtUp('m', 'r2');
    await comb.caughtUp('f', 'm', 120_000);
    const [f1, f2] = [await fingerprint(dbs.r1), await fingerprint(dbs.r2)];
    for (const d of [dbs.m, dbs.b, dbs.f]) {
      const got = await fingerprint(d);
      expect(BigInt(got.n)).toBe(BigInt(f1.n) + BigInt(f2.n));
      expect(BigInt(got.sum)).toBe(BigInt(f1.sum) + BigInt(f2.sum));
    }
    const errors = await dbs.b.query(
      "select queue_name, cur_error from pgq_node.local_state where cur_error is not null and cur_error <> ''",
    );
    expect(errors.rows).toEqual([]);
    // b's merge-leaves never finished a partition batch that b's comb had not passed, and follow
    // it to the partition roots' newest tick; they copied nothing anywhere
    expect(behind).toEqual([]);
    for (const [q, root] of [
      ['part1', dbs.r1],
      ['part2', dbs.r2],
    ] as const) {
      const last = BigInt(
        (
          await root.one(
            'select max(tick_id) as t from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where q.queue_name = $1',
            [q],
          )
        ).t,
      );
      await waitUntil(`b's merge-leaf of ${q} at the root's tick ${last}`, async () => {
        const x = await follower(q);
        return x.atRoot >= last && x.onB >= last;
      });
    }
    const bTables = await dbs.b.query(
      "select queue_name from londiste.table_info where table_name = 'public.t' order by 1",
    );
    expect(bTables.rows.map((r) => r.queue_name)).toEqual(['comb']);
  }, 300_000);
});
