// The dropped_ddl text we store in londiste.table_info is read back by the original's copy
// process too (it splits it with skytools.parse_statements when it rebuilds a table after a
// crash): both splitters must give the same statements for what structure.ts writes.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { splitDdl } from '../../layers/londiste/copy/ddl-text.ts';
import { readStructure, structureDdl } from '../../layers/londiste/copy/structure.ts';
import { useTestDatabase } from '../support/db.ts';

const python = process.env.PGQ_PYTHON ?? '/usr/bin/python3';
const hasSkytools = spawnSync(python, ['-c', 'import skytools']).status === 0;
const db = useTestDatabase({ empty: true });

describe.skipIf(!hasSkytools)('dropped_ddl text vs skytools.parse_statements (python3-skytools)', () => {
  it('splits into the same statements', async () => {
    await db.query(`
      create table p (id int);
      create table "we;ird" (id int primary key, v text check (v <> ';'), n int unique deferrable) inherits (p);
      create index "i;x" on "we;ird" (lower(v)) where v <> ')';
      comment on index "i;x" is 'it''s; \\ done';
      create table l (v text);
      create rule r as on insert to "we;ird" do also (insert into l values (new.v); insert into l values ('x;'));
    `);
    const ddl = structureDdl(await readStructure(db.pool, 'public.we;ird')) as string;
    const script =
      'import sys, json, skytools; print(json.dumps([s.strip().rstrip(";").strip() for s in skytools.parse_statements(sys.stdin.read())]))';
    const r = spawnSync(python, ['-c', script], { input: ddl, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const theirs = JSON.parse(r.stdout) as string[];
    expect(theirs).toHaveLength(9); // pk and unique 2 each, check, index + its comment, rule, parent
    expect(splitDdl(ddl)).toEqual(theirs);
  });
});
