// Switchover (root ↔ branch under load) and failover (root unreachable, --dead-root) followed by
// resurrect, on three databases root → branch → leaf. The producer writes consecutive numbers on
// whichever node is the root; the leaf's consumer must see every number the surviving cascade
// accepted exactly once, in order.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { targetNames } from '../support/targets.ts';
import { Producer, queueEvents, range, seen, useCluster, waitUntil } from './cluster.ts';

const setup = (target: (typeof targetNames)[number]) =>
  useCluster(['A', 'B', 'L'], { target, record: 'L', build: true, start: true });

for (const target of targetNames) {
  describe(`switchover (${target})`, () => {
    const s = setup(target);

    it('root ↔ branch under load loses and duplicates nothing, and back again', async () => {
      const { c } = s;
      const p = new Producer(c, 'A', 2);
      p.start();
      await waitUntil('some events at the leaf', async () => (await seen(c.nodes.L!)).length > 50);

      await c.withAdmin('B', (a) => a.takeover('A'));
      expect((await c.info('B')).nodeType).toBe('root');
      const a1 = await c.info('A');
      expect([a1.nodeType, a1.providerNode]).toEqual(['branch', 'B']);
      expect((await c.info('L')).providerNode).toBe('B');
      await waitUntil('producer writes to the new root', async () => p.root === 'B');
      const mark = p.last;
      await waitUntil('leaf passes the switchover', async () => (await seen(c.nodes.L!)).length > mark + 30);

      // and back: A takes over again while the producer keeps writing
      await c.withAdmin('A', (a) => a.takeover('B'));
      expect((await c.info('A')).nodeType).toBe('root');
      expect((await c.info('B')).providerNode).toBe('A');
      await waitUntil('producer writes to A again', async () => p.root === 'A');
      const mark2 = p.last;
      await waitUntil(
        'leaf passes the second switchover',
        async () => (await seen(c.nodes.L!)).length > mark2 + 30,
      );
      await p.stop();

      await waitUntil('leaf has everything', async () => (await seen(c.nodes.L!)).length >= p.last);
      await new Promise((r) => setTimeout(r, 500));
      expect(await seen(c.nodes.L!)).toEqual(range(1, p.last));
      // every node agrees on the members and the tree
      const st = await c.withAdmin('L', (a) => a.status());
      expect(st.roots.map((r) => r.name)).toEqual(['A']);
      expect(st.roots[0]!.children.map((x) => x.name)).toEqual(['B']);
      expect(st.roots[0]!.children[0]!.children.map((x) => x.name)).toEqual(['L']);
    });
  });

  describe(`failover and resurrect (${target})`, () => {
    const s = setup(target);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cascade-resurrect-'));

    it('failover with the root unreachable leaves the new root consistent; resurrect brings the old root back as a branch', async () => {
      const { c } = s;
      const p = new Producer(c, 'A', 0);
      await p.many(100);
      await waitUntil('leaf has the first 100', async () => (await seen(c.nodes.L!)).length >= 100);
      // B falls behind (worker stopped), A takes 50 more events that B will never see
      await c.stopWorker('B');
      await p.many(50);
      // ticked on A (a fixed pause was not always enough on a loaded machine)
      await waitUntil(
        'A ticked the 50',
        async () =>
          Number(
            (await c.nodes.A!.query('select ev_new from pgq.get_queue_info($1)', [c.queue])).rows[0]
              ?.ev_new ?? 1,
          ) === 0,
      );
      const lostFrom = 101;
      const lostTo = p.last;

      // the root dies: workers and ticker gone, connections refused
      await c.stopWorker('A');
      await c.stopTicker('A');
      const aName = s.dbs[0]!.name;
      await s.dbs[0]!.admin(`alter database ${aName} allow_connections false`);
      await s.dbs[0]!.admin(
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${aName}' and pid <> pg_backend_pid()`,
      );
      c.startWorker('B'); // keeps failing to reach A until the takeover

      await c.withAdmin('B', (a) => a.takeover('A', { deadRoot: true }));
      const b = await c.info('B');
      expect(b.nodeType).toBe('root');
      const members = await c.withAdmin('L', (a) => a.members());
      expect(members.find((m) => m.name === 'A')?.dead).toBe(true);

      p.root = 'B';
      p.except = ['A'];
      await p.many(60);
      await waitUntil('leaf gets the new root events', async () => (await seen(c.nodes.L!)).includes(p.last));
      // consistent: the first 100, nothing of what only A had, then everything written on B — once, in order
      expect(await seen(c.nodes.L!)).toEqual([...range(1, 100), ...range(lostTo + 1, p.last)]);
      const bEvents = (await queueEvents(c.nodes.B!, c.queue)).map((e) => Number(e.ev_data));
      expect(bEvents).toEqual([...range(1, 100), ...range(lostTo + 1, p.last)]);
      // B kept a position for A (the gravestone)
      const grave = await c.nodes.B!.query(
        "select last_tick from pgq.get_consumer_info($1, 'A.gravestone')",
        [c.queue],
      );
      expect(grave.rows).toHaveLength(1);

      // A comes back and is resurrected as a branch of B
      await s.dbs[0]!.admin(`alter database ${aName} allow_connections true`);
      const dumpFile = path.join(dir, 'lost.json');
      const res = await c.withAdmin('A', (a) => a.resurrect({ dumpFile }));
      expect(res.failoverTick).toBe(grave.rows[0]?.last_tick);
      expect(existsSync(dumpFile)).toBe(true);
      const dumped = JSON.parse(readFileSync(dumpFile, 'utf8')) as { ev_type: string; ev_data: string }[];
      expect(dumped.filter((e) => e.ev_type === 'ev').map((e) => Number(e.ev_data))).toEqual(
        range(lostFrom, lostTo),
      );
      const a = await c.info('A');
      expect([a.nodeType, a.providerNode, a.paused]).toEqual(['branch', 'B', true]);

      // the lost events are gone from A's queue; after resume A copies B's queue
      const checkFrom = res.failoverTick;
      await c.nodes.A!.query("select pgq.register_consumer_at($1, 'check', $2)", [c.queue, checkFrom]);
      c.startWorker('A');
      await c.withAdmin('A', (adm) => adm.resume());
      await c.withAdmin('B', (adm) => adm.tagDead(['A'], false));
      const before = p.last;
      await p.many(20);
      await waitUntil('A caught up with B', async () => {
        const [ai, bi] = [await c.info('A'), await c.info('B')];
        return (
          ai.workerLastTick != null &&
          bi.workerLastTick != null &&
          ai.workerLastTick >= bi.workerLastTick &&
          ai.workerLastTick > checkFrom
        );
      });
      await waitUntil('A has the newest event', async () => {
        return (await queueEvents(c.nodes.A!, c.queue)).some((e) => e.ev_data === String(p.last));
      });
      const onA: number[] = [];
      for (;;) {
        const b2 = (await c.nodes.A!.query("select pgq.next_batch($1, 'check') as b", [c.queue])).rows[0]?.b;
        if (b2 == null) break;
        const evs = await c.nodes.A!.query('select ev_type, ev_data from pgq.get_batch_events($1)', [b2]);
        onA.push(...evs.rows.filter((e) => e.ev_type === 'ev').map((e) => Number(e.ev_data)));
        await c.nodes.A!.query('select pgq.finish_batch($1)', [b2]);
      }
      expect(onA).toEqual(range(lostTo + 1, p.last));
      expect(onA).toContain(before + 1);
      // A is alive again in everyone's member list
      const m2 = await c.withAdmin('L', (adm) => adm.members());
      await waitUntil(
        'L sees A alive',
        async () => !(await c.withAdmin('L', (adm) => adm.members())).find((m) => m.name === 'A')?.dead,
      );
      expect(m2.map((m) => m.name)).toEqual(['A', 'B', 'L']);
      expect(await seen(c.nodes.L!)).toEqual([...range(1, 100), ...range(lostTo + 1, p.last)]);
    });
  });
}
