// The local stack behind `npm start`: the shipped example config, its trigger-fed queue and its
// consumer, end to end on a real database; and the CLI's clean start and stop.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../layers/config/settings.ts';
import { loadDevConfig, startStack } from '../../layers/dev/stack.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const repo = path.resolve(import.meta.dirname, '../..');
const example = path.join(repo, 'examples/dev/skytools-dev.ini');

// The stack's Londiste leaf lives beside the test database (<name>_leaf).
const leafUrl = () => {
  const u = new URL(db.url);
  u.pathname = `${u.pathname}_leaf`;
  return u.toString();
};
async function onLeaf<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: leafUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
const fingerprint =
  "select count(*)::int as n, md5(string_agg(t::text, ',' order by id)) as sum from demo.orders t";
afterAll(async () => {
  const name = new URL(leafUrl()).pathname.slice(1);
  await db.query(`drop database if exists "${name}" with (force)`);
});

describe('skytools dev stack', () => {
  it('moves every change of the demo table through the queue into the audit table', async () => {
    const cfg = loadDevConfig(example);
    cfg.demoProducerSql = undefined; // the test makes its own, countable traffic
    const stack = await startStack(cfg, db.url);
    try {
      for (let i = 0; i < 20; i++) {
        await db.query('insert into demo.orders (customer, amount) values ($1, 10)', [`c${i}`]);
      }
      await db.query("update demo.orders set status = 'paid' where customer in ('c1', 'c2')");
      await db.query("delete from demo.orders where customer = 'c3'");
      let rows: { op: string; order_id: string }[] = [];
      for (let i = 0; i < 200 && rows.length < 23; i++) {
        await new Promise((r) => setTimeout(r, 25));
        rows = (await db.query('select op, order_id::text from demo.order_audit order by ev_id')).rows;
      }
      expect(rows.filter((r) => r.op === 'I')).toHaveLength(20);
      expect(rows.filter((r) => r.op === 'U')).toHaveLength(2);
      expect(rows.filter((r) => r.op === 'D')).toHaveLength(1);
      const status = await stack.status();
      expect(status.queues.map((q) => q.name)).toContain('demo_orders');
      const audit = status.consumers.find((c) => c.name === 'order_audit');
      expect(audit?.stats?.events).toBeGreaterThanOrEqual(23);
      expect(audit?.stats?.latencyMs.length).toBeGreaterThan(0);
      expect(status.ticker.ran).toBe(true);

      // Londiste: demo.orders is copied into the leaf database, then replicated.
      let repl = status.replication;
      for (let i = 0; i < 600 && repl?.[1]?.tables[0]?.state !== 'ok'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        repl = (await stack.status()).replication;
      }
      expect(repl?.map((n) => `${n.node}:${n.type}`)).toEqual(['root:root', 'leaf:leaf']);
      expect(repl?.[1]?.tables).toEqual([{ name: 'demo.orders', state: 'ok' }]);
      await db.query("update demo.orders set status = 'shipped' where customer in ('c4', 'c5')");
      await db.query("insert into demo.orders (customer, amount) values ('after-copy', 1)");
      const want = (await db.query(fingerprint)).rows[0];
      let got: unknown;
      for (let i = 0; i < 300; i++) {
        got = await onLeaf(async (c) => (await c.query(fingerprint)).rows[0]);
        if (JSON.stringify(got) === JSON.stringify(want)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(got).toEqual(want);
      expect((await stack.status()).replication?.[1]?.lag).toEqual(expect.any(Number));
    } finally {
      await stack.stop();
    }
  });

  it('serverless mode: the Lambda handlers, woken through SQS, move the same changes', async () => {
    const cfg = loadDevConfig(example);
    cfg.demoProducerSql = undefined;
    const stack = await startStack(cfg, db.url, undefined, 'serverless');
    try {
      // Counted by their rows: the stack may also pick up events the previous one left in the
      // queue (ev_id is the audit table's key, so none is recorded twice).
      const ours = "select count(*)::int as n from demo.order_audit where row_data like '%customer=sls%'";
      for (let i = 0; i < 10; i++) {
        await db.query('insert into demo.orders (customer, amount) values ($1, 5)', [`sls${i}`]);
      }
      let n = 0;
      for (let i = 0; i < 400 && n < 10; i++) {
        await new Promise((r) => setTimeout(r, 25));
        n = (await db.query(ours)).rows[0].n;
      }
      await new Promise((r) => setTimeout(r, 100));
      expect((await db.query(ours)).rows[0].n).toBe(10);
      const audit = (await stack.status()).consumers.find((c) => c.name === 'order_audit');
      expect(audit?.stats?.events).toBeGreaterThanOrEqual(10);
      expect(audit?.stats?.errors).toBe(0);
      // counted while the (minute-long) ticker invocation still runs, not only when it returns
      expect((await stack.status()).ticker.ticks).toBeGreaterThan(0);
    } finally {
      await stack.stop();
    }
  });

  it('the CLI starts, shows status lines, and stops cleanly by itself', () => {
    const r = spawnSync(
      process.execPath,
      [path.join(repo, 'bin/skytools.ts'), 'dev', '--no-status', '--run-for', '2'],
      {
        encoding: 'utf8',
        env: { ...process.env, DATABASE_URL: db.url },
        timeout: 60_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ticks=\d+ order_audit: \d+ events/);
    expect(r.stderr).toMatch(/stopped/);
  });

  it('a second `skytools dev` on a data directory in use says so and exits non-zero', async () => {
    const { startEmbedded } = await import('../../layers/dev/embedded.ts');
    const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'devdata-')), 'pg');
    const first = await startEmbedded({ dataDir, persistent: true });
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, SKYTOOLS_DEV_DATA: dataDir };
      delete env.DATABASE_URL;
      const r = spawnSync(
        process.execPath,
        [path.join(repo, 'bin/skytools.ts'), 'dev', '--no-status', '--run-for', '1'],
        { encoding: 'utf8', env, timeout: 60_000 },
      );
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(
        new RegExp(`data directory ${dataDir} is in use by PostgreSQL pid \\d+ on port ${first.port}`),
      );
      expect(r.stderr).not.toMatch(/undefined/);
    } finally {
      await first.stop();
    }
  });

  it('fails to start, saying why, when the replication cannot be set up', async () => {
    const cfg = loadDevConfig(example);
    cfg.demoProducerSql = undefined;
    cfg.replicateTables = ['demo.no_such_table'];
    await expect(startStack(cfg, db.url)).rejects.toThrow(
      /Londiste replication could not be set up.*no_such_table/s,
    );
  });

  it('rejects a consumer without a handler with a clear message', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'devcfg-'));
    const f = path.join(dir, 'bad.ini');
    writeFileSync(f, '[consumer c]\nqueue = q\n');
    expect(() => loadDevConfig(f)).toThrow(ConfigError);
    expect(() => loadDevConfig(f)).toThrow(/"handler" is required/);
  });
});
