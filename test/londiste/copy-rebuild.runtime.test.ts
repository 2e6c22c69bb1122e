// Rebuilding a copied table's structure (layers/londiste/copy/rebuild.ts): the index builds on
// several connections at once end with the same catalog as one after another; a rebuild resumed
// after a crash (some objects already there) skips what exists, inside a transaction or not;
// the session's maintenance_work_mem is restored.
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { quoteFqname } from '../../layers/db/index.ts';
import { rebuildStructure } from '../../layers/londiste/copy/rebuild.ts';
import { createStatements, dropStructure, readStructure } from '../../layers/londiste/copy/structure.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase({ empty: true });
let client: pg.Client;

beforeAll(async () => {
  await db.query(`
    create table base (id bigint);
    create table r (id bigint not null, v text, n int, ts timestamptz,
                    constraint r_pk primary key (id), constraint r_n unique (n, id) deferrable,
                    check (n >= 0)) inherits (base);
    create index r_v on r (v);
    create index r_lower on r (lower(v)) where n > 10;
    create table rlog (v text);
    create rule r_rule as on delete to r do also insert into rlog values (old.v);
    insert into r select i, md5(i::text), i % 1000, now() from generate_series(1, 50000) i;
  `);
  client = await db.connect();
});

async function catalog(table: string) {
  const t = quoteFqname(table);
  const r = await db.query(
    `select pg_get_constraintdef(oid) as d from pg_constraint where conrelid = to_regclass($1)
     union all select pg_get_indexdef(indexrelid) from pg_index where indrelid = to_regclass($1)
     union all select pg_get_ruledef(oid) from pg_rewrite where ev_class = to_regclass($1)
     union all select inhparent::regclass::text from pg_inherits where inhrelid = to_regclass($1)
     order by 1`,
    [t],
  );
  return r.rows.map((x) => x.d as string);
}

describe('rebuildStructure', () => {
  it('builds the indexes on several connections at once, then the rest in order: same catalog', async () => {
    const before = await catalog('public.r');
    const s = await readStructure(client, 'public.r');
    await dropStructure(client, s);
    expect(await catalog('public.r')).toEqual([]);
    let opened = 0;
    await rebuildStructure(client, createStatements(s), {
      table: 'public.r',
      parallel: 3,
      maintenanceWorkMem: '96MB',
      connect: async () => {
        opened++;
        return db.connect();
      },
    });
    expect(opened).toBe(3);
    expect(await catalog('public.r')).toEqual(before);
    expect((await client.query('show maintenance_work_mem')).rows[0].maintenance_work_mem).toBe('64MB');
  });

  it.each([
    ['in a transaction', true],
    ['in autocommit', false],
  ])('resumes a half-done rebuild with skipExisting (%s)', async (_label, tx) => {
    const before = await catalog('public.r');
    const s = await readStructure(client, 'public.r');
    const statements = createStatements(s);
    await dropStructure(client, s);
    // The crash came after half the statements.
    for (const sql of statements.slice(0, Math.ceil(statements.length / 2))) await client.query(sql);
    await expect(rebuildStructure(client, statements, { table: 'public.r' })).rejects.toMatchObject({
      kind: 'copy_failed',
      message: expect.stringMatching(/^table public\.r: .* already exists \(in: /),
    });
    if (tx) await client.query('begin');
    await rebuildStructure(client, statements, { table: 'public.r', skipExisting: true });
    if (tx) await client.query('commit');
    expect(await catalog('public.r')).toEqual(before);
  });

  it('refuses parallel builds without a way to connect', async () => {
    await expect(rebuildStructure(client, [], { table: 'public.r', parallel: 2 })).rejects.toMatchObject({
      kind: 'usage',
    });
  });
});
