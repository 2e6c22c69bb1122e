// Least privilege: the roles of the original. A writer may only produce, a reader only
// consume, an admin runs the ticker; a role with no grant can do none of it.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase, withRole } from '../support/db.ts';
import { pgError } from '../support/pgq.ts';

const db = useTestDatabase();
const suffix = randomBytes(3).toString('hex');
const roles = { writer: `w_${suffix}`, reader: `r_${suffix}`, admin: `a_${suffix}`, nobody: `n_${suffix}` };

const as = (role: string, sql: string, params: unknown[] = []) =>
  withRole(db.url, role, (c) => c.query(sql, params));

beforeAll(async () => {
  for (const r of Object.values(roles)) await db.query(`create role ${r} login password 'pw'`);
  await db.query(`grant pgq_writer to ${roles.writer}`);
  await db.query(`grant pgq_reader to ${roles.reader}`);
  await db.query(`grant pgq_admin to ${roles.admin}`);
  await db.query("select pgq.create_queue('priv')");
});

describe('roles', () => {
  it('pgq_writer produces but cannot consume or administer', async () => {
    await as(roles.writer, "select pgq.insert_event('priv', 'T', 'from writer')");
    await as(roles.writer, "select pgq.insert_event_bulk('priv', 'T', array['bulk from writer'])");
    expect((await pgError(as(roles.writer, "select pgq.register_consumer('priv', 'w')"))).message).toMatch(
      /permission denied/,
    );
    expect((await pgError(as(roles.writer, "select pgq.create_queue('mine')"))).message).toMatch(
      /permission denied/,
    );
    expect((await pgError(as(roles.writer, 'select * from pgq.event_all'))).message).toMatch(
      /permission denied/,
    );
  });

  it('pgq_reader consumes but cannot produce; pgq_admin ticks', async () => {
    await as(roles.reader, "select pgq.register_consumer('priv', 'reader')");
    await as(roles.admin, "select pgq.force_tick('priv')");
    await as(roles.admin, "select pgq.ticker('priv')");
    const b = await as(roles.reader, "select pgq.next_batch('priv', 'reader') as b");
    await as(roles.admin, "select pgq.insert_event('priv', 'T', 'more')");
    expect((await pgError(as(roles.reader, "select pgq.insert_event('priv', 'T', 'x')"))).message).toMatch(
      /permission denied/,
    );
    expect((await pgError(as(roles.reader, 'select pgq.ticker()'))).message).toMatch(/permission denied/);
    // The writer's events committed after the tick the reader registered at: they are its batch.
    const ev = await as(roles.reader, 'select ev_data from pgq.get_batch_events($1)', [b.rows[0].b]);
    expect(ev.rows.map((r) => r.ev_data)).toEqual(['from writer', 'bulk from writer']);
    await as(roles.reader, 'select pgq.finish_batch($1)', [b.rows[0].b]);
  });

  it('a role without grants can look at queue info but not produce, consume or tick', async () => {
    const info = await as(roles.nobody, "select queue_name from pgq.get_queue_info('priv')");
    expect(info.rows).toEqual([{ queue_name: 'priv' }]);
    for (const sql of [
      "select pgq.insert_event('priv', 'T', 'x')",
      "select pgq.next_batch('priv', 'reader')",
      'select pgq.ticker()',
      "select pgq.drop_queue('priv')",
    ]) {
      expect((await pgError(as(roles.nobody, sql))).message).toMatch(/permission denied/);
    }
  });
});
