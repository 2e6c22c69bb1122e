// Golden comparison: the same sequence of pgq_node calls runs on a database with Debian's
// packaged extensions (`create extension pgq_node cascade`, C pgq underneath) and on a database
// with our sql/install.sql, on the same server. Every result row (ret_code, ret_note, node
// info, locations, consumer state, pgq subscriptions, cascade events) and every error message
// must be the same. Timestamps and intervals are masked: they legitimately differ.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { C_URL, probeCompat, useSideBySide } from '../support/compat.ts';

const env = await probeCompat();
let reason = env.reason;
if (env.ok) {
  const c = new pg.Client({ connectionString: C_URL });
  await c.connect();
  const r = await c.query("select count(*)::int as n from pg_available_extensions where name = 'pgq_node'");
  await c.end();
  if (r.rows[0].n === 0)
    reason = `server ${C_URL} has no pgq_node extension (install postgresql-15-pgq-node)`;
}
const ready = env.ok && reason === '';
if (!ready) console.warn(`compat (pgq_node vs the original) skipped: ${reason}`);

type Outcome = { rows: unknown[] } | { error: string };

/** Masks values that differ between two healthy runs (times, lags). */
function mask(v: unknown): unknown {
  if (v instanceof Date) return '<time>';
  if (Array.isArray(v)) return v.map(mask);
  if (v !== null && typeof v === 'object') return '<interval>';
  return v;
}

async function run(c: pg.Client, sql: string): Promise<Outcome> {
  try {
    const r = await c.query(sql);
    return {
      rows: r.rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, mask(v)]))),
    };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

// Each queue of one database plays a different node, so one database covers every node type.
const tick = (q: string) => `select pgq.force_tick('${q}'), pgq.ticker('${q}') is not null as ticked`;
const nodeInfo = (q: string) => `select * from pgq_node.get_node_info('${q}')`;
const workerState = (q: string) => `select * from pgq_node.get_worker_state('${q}')`;
const tables = [
  'select * from pgq_node.node_location order by 1, 2',
  'select * from pgq_node.node_info order by 1',
  'select * from pgq_node.local_state order by 1, 2',
  'select * from pgq_node.subscriber_info order by 1, 2',
  `select queue_name, consumer_name, last_tick, current_batch, next_tick, pending_events
     from pgq.get_consumer_info() order by 1, 2`,
  'select queue_name, queue_external_ticker, queue_disable_insert from pgq.queue order by 1',
];
const events = (q: string, reader: string) => [
  `select pgq.next_batch('${q}', '${reader}') is not null as has_batch`,
  `select ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4
     from pgq.get_batch_events(pgq.next_batch('${q}', '${reader}')) order by ev_id`,
  `select pgq.finish_batch(pgq.next_batch('${q}', '${reader}'))`,
];

const script: string[] = [
  // --- root node, node map ---
  "select * from pgq_node.register_location('rq', 'r1', 'dbname=r1', false)",
  "select * from pgq_node.register_location('rq', 'b1', 'dbname=b1', false)",
  "select * from pgq_node.register_location('rq', 'l1', 'dbname=l1', false)",
  "select * from pgq_node.create_node('rq', 'root', 'r1', 'r1_worker', 'b1', null, null)",
  "select * from pgq_node.create_node('rq', 'root', 'r1', 'r1_worker', null, null, null)",
  "select * from pgq_node.create_node('rq', 'root', 'r1', 'r1_worker', null, null, null)",
  nodeInfo('rq'),
  workerState('rq'),
  "select pgq_node.is_root_node('rq'), pgq_node.is_leaf_node('rq')",
  "select pgq.register_consumer('rq', 'reader')",
  // a location change on the root is published as an event
  "select * from pgq_node.register_location('rq', 'b1', 'dbname=b1 host=x', false)",
  "select * from pgq_node.register_location('rq', 'b1', null, true)",
  "select * from pgq_node.register_location('rq', 'nowhere', null, false)",
  "select * from pgq_node.get_queue_locations('rq') order by 1",
  tick('rq'),
  ...events('rq', 'reader'),
  // --- provider side ---
  "select * from pgq_node.register_subscriber('rq', 'b1', 'b1_worker', null)",
  "select * from pgq_node.register_subscriber('rq', 'l1', 'l1_worker', null)",
  "select * from pgq_node.get_subscriber_info('rq')",
  tick('rq'),
  tick('rq'),
  "select * from pgq_node.set_subscriber_watermark('rq', 'b1', 3)",
  "select * from pgq_node.set_subscriber_watermark('rq', 'b1', 3)",
  "select * from pgq_node.set_subscriber_watermark('rq', 'b1', 2)",
  "select * from pgq_node.set_subscriber_watermark('rq', 'nobody', 3)",
  "select * from pgq_node.get_subscriber_info('rq')",
  nodeInfo('rq'),
  "select * from pgq_node.set_global_watermark('rq', null)",
  "select * from pgq_node.set_global_watermark('rq', 2)",
  nodeInfo('rq'),
  "select pgq_node.maint_watermark('rq')",
  "select pgq_node.maint_watermark('bq'), pgq_node.maint_watermark('nothing')",
  tick('rq'),
  ...events('rq', 'reader'),
  ...events('rq', 'reader'),
  ...events('rq', 'reader'),
  "select * from pgq_node.unregister_subscriber('rq', 'l1')",
  "select * from pgq_node.unregister_subscriber('rq', 'l1')",
  ...tables,
  // --- node map removals ---
  "select * from pgq_node.unregister_location('rq', 'r1')",
  "select * from pgq_node.unregister_location('rq', 'l1')",
  "select * from pgq_node.unregister_location('rq', 'l1')",
  tick('rq'),
  ...events('rq', 'reader'),
  ...events('rq', 'reader'),
  "select * from pgq_node.set_node_attrs('rq', 'sync_watermark=x')",
  "select * from pgq_node.set_node_attrs('nothing', 'a=b')",
  // --- cascaded consumers on the root ---
  "select * from pgq_node.register_consumer('rq', 'cc', 'r1', 2)",
  "select * from pgq_node.register_consumer('rq', 'cc', 'r1', 3)",
  "select * from pgq_node.register_consumer('nothing', 'cc', 'r1', 3)",
  "select * from pgq_node.get_consumer_state('rq', 'cc')",
  "select * from pgq_node.get_consumer_state('rq', 'ghost')",
  "select * from pgq_node.get_consumer_state('nothing', 'cc')",
  "select * from pgq_node.set_consumer_paused('rq', 'cc', true)",
  "select * from pgq_node.set_consumer_paused('rq', 'cc', true)",
  "select * from pgq_node.set_consumer_uptodate('rq', 'cc', true)",
  "select * from pgq_node.set_consumer_paused('rq', 'cc', false)",
  "select * from pgq_node.set_consumer_paused('rq', 'ghost', false)",
  "select * from pgq_node.set_consumer_uptodate('rq', 'ghost', true)",
  "select * from pgq_node.set_consumer_error('rq', 'cc', 'boom')",
  "select * from pgq_node.set_consumer_error('rq', 'ghost', 'boom')",
  "select * from pgq_node.get_consumer_info('rq')",
  "select * from pgq_node.set_consumer_completed('rq', 'cc', 4)",
  "select * from pgq_node.set_consumer_completed('rq', 'ghost', 4)",
  "select * from pgq_node.change_consumer_provider('rq', 'cc', 'b1')",
  "select * from pgq_node.change_consumer_provider('rq', 'cc', 'nowhere')",
  "select * from pgq_node.change_consumer_provider('rq', 'ghost', 'b1')",
  "select * from pgq_node.get_consumer_info('rq')",
  "select * from pgq_node.unregister_consumer('rq', 'cc')",
  "select * from pgq_node.unregister_consumer('nothing', 'cc')",
  // --- branch node ---
  "select * from pgq_node.register_location('bq', 'b1', 'dbname=b1', false)",
  "select * from pgq_node.register_location('bq', 'r1', 'dbname=r1', false)",
  "select * from pgq_node.create_node('bq', 'branch', 'b1', 'b1_worker', null, 7, null)",
  "select * from pgq_node.create_node('bq', 'branch', 'b1', 'b1_worker', 'r1', null, null)",
  "select * from pgq_node.create_node('bq', 'branch', 'b1', 'b1_worker', 'r1', 7, null)",
  nodeInfo('bq'),
  workerState('bq'),
  "select * from pgq_node.set_global_watermark('bq', null)",
  "select * from pgq_node.set_global_watermark('bq', 99)",
  "select * from pgq_node.set_global_watermark('bq', 7)",
  "select * from pgq_node.register_subscriber('bq', 'r1', 'x_worker', null)",
  "select pgq.ticker('bq', 8, now(), 10)",
  "select * from pgq_node.set_consumer_completed('bq', 'b1_worker', 8)",
  "select * from pgq_node.set_global_watermark('bq', 8)",
  workerState('bq'),
  // switchover: the branch becomes root, then goes back through demote_root's steps
  "select * from pgq_node.demote_root('bq', 1, 'r1')",
  "select * from pgq_node.promote_branch('bq')",
  "select * from pgq_node.promote_branch('bq')",
  "select * from pgq_node.promote_branch('nothing')",
  nodeInfo('bq'),
  "select pgq.insert_event('bq', 'after', 'promotion')",
  tick('bq'),
  "select * from pgq_node.demote_root('bq', 2, 'r1')",
  "select * from pgq_node.demote_root('bq', 3, 'r1')",
  "select * from pgq_node.demote_root('bq', 1, 'r1')",
  "select * from pgq_node.demote_root('bq', 2, 'r1')",
  "select * from pgq_node.demote_root('bq', 9, 'r1')",
  "select * from pgq_node.demote_root('bq', 3, 'r1')",
  "select * from pgq_node.demote_root('bq', 1, 'r1')",
  "select * from pgq_node.demote_root('nothing', 1, 'r1')",
  nodeInfo('bq'),
  workerState('bq'),
  ...tables,
  // --- leaf and merge-leaf ---
  "select * from pgq_node.register_location('lq', 'l1', 'dbname=l1', false)",
  "select * from pgq_node.register_location('lq', 'b1', 'dbname=b1', false)",
  "select * from pgq_node.create_node('lq', 'leaf', 'l1', 'l1_worker', 'b1', 5, 'no_such_queue')",
  "select * from pgq_node.create_node('lq', 'leaf', 'l1', 'l1_worker', 'b1', 5, null)",
  nodeInfo('lq'),
  workerState('lq'),
  "select pgq_node.is_root_node('lq'), pgq_node.is_leaf_node('lq')",
  "select * from pgq_node.set_global_watermark('lq', 5)",
  "select * from pgq_node.register_subscriber('lq', 'b1', 'x_worker', null)",
  "select * from pgq_node.register_location('pq', 'p1', 'dbname=p1', false)",
  "select * from pgq_node.register_location('pq', 'b1', 'dbname=b1', false)",
  "select * from pgq_node.create_node('pq', 'leaf', 'p1', 'p1_worker', 'b1', 5, 'bq')",
  nodeInfo('pq'),
  workerState('pq'),
  nodeInfo('bq'),
  "select * from pgq_node.set_partition_watermark('bq', 'pq', 42)",
  "select * from pgq_node.set_partition_watermark('rq', 'pq', 42)",
  "select * from pgq_node.set_partition_watermark('bq', 'lq', 42)",
  "select * from pgq_node.get_consumer_info('pq')",
  // --- bad input ---
  "select pgq_node.is_root_node('nothing')",
  'select pgq_node.is_leaf_node(null)',
  nodeInfo('nothing'),
  workerState('nothing'),
  'select * from pgq_node.get_node_info(null)',
  "select * from pgq_node.create_node('xq', 'trunk', 'x1', 'w', null, null, null)",
  "select * from pgq_node.create_node('xq', 'root', 'x1', 'w', null, null, null)",
  "select * from pgq_node.register_location('xq', 'x1', 'dbname=x1', false)",
  "select * from pgq_node.create_node('xq', 'root', 'x1', null, null, null, null)",
  "select * from pgq_node.create_node('xq', 'leaf', 'x1', 'w', null, null, null)",
  "select * from pgq_node.create_node(null, 'root', 'x1', 'w', null, null, null)",
  "select * from pgq_node.register_subscriber('nothing', 'b1', 'w', null)",
  "select * from pgq_node.register_subscriber('rq', 'b1', 'b1_worker', null)",
  "select * from pgq_node.register_subscriber('rq', 'l1', 'l1_worker', 999999)",
  "select * from pgq_node.register_location('rq', 'b1', null, null)",
  "select * from pgq_node.set_consumer_completed('rq', 'r1_worker', null)",
  "select * from pgq_node.register_consumer('rq', 'c2', 'nowhere', 1)",
  "select * from pgq_node.set_global_watermark('nothing', 1)",
  'select * from pgq_node.unregister_subscriber(null, null)',
  'select * from pgq_node.get_subscriber_info(null)',
  "select * from pgq_node.get_queue_locations('nothing')",
  ...tables,
  // --- drop_node ---
  "select * from pgq_node.drop_node('lq', 'b1')",
  "select * from pgq_node.drop_node('rq', 'b1')",
  "select * from pgq_node.drop_node('rq', 'nobody')",
  ...tables,
  "select * from pgq_node.drop_node('lq', 'l1')",
  "select * from pgq_node.drop_node('rq', 'r1')",
  "select * from pgq_node.drop_node('gone', 'g1')",
  ...tables,
  'select pgq_node.upgrade_schema(), pgq_node.version()',
];

describe.runIf(ready)('pgq_node: ours vs the original extension', () => {
  const dbs = useSideBySide('pgqn', {
    original: async (c) => {
      await c.query('create extension pgq_node cascade');
    },
    ours: async (c) => {
      await install(c);
    },
  });

  it('has the same functions: names, arguments and results', async () => {
    const q = `select p.proname || '(' || pg_get_function_arguments(p.oid) || ') -> ' || pg_get_function_result(p.oid) as f
                 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'pgq_node' order by 1`;
    const ours = (await dbs.ours.query(q)).rows.map((r) => r.f);
    expect(ours).toHaveLength(30);
    expect(ours).toEqual((await dbs.original.query(q)).rows.map((r) => r.f));
  });

  it('has the same tables and columns', async () => {
    const q = `select table_name, column_name, data_type, is_nullable, column_default
                 from information_schema.columns where table_schema = 'pgq_node' order by 1, ordinal_position`;
    expect((await dbs.ours.query(q)).rows).toEqual((await dbs.original.query(q)).rows);
  });

  it('gives the same result for every call of a root/branch/leaf/merge-leaf script', async () => {
    const diffs: { step: number; sql: string; original: Outcome; ours: Outcome }[] = [];
    const dump: { sql: string; ours: Outcome }[] = [];
    for (const [i, sql] of script.entries()) {
      const original = await run(dbs.original, sql);
      const ours = await run(dbs.ours, sql);
      dump.push({ sql, ours });
      if (JSON.stringify(original) !== JSON.stringify(ours)) diffs.push({ step: i, sql, original, ours });
    }
    if (process.env.PGQ_NODE_DUMP) console.log(JSON.stringify(dump, null, 1));
    expect(diffs).toEqual([]);
  });
});
