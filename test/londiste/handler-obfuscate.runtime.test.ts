// obfuscate: the rules file (YAML as the original's rules.yaml, or JSON), every action on the
// events our logutriga and jsontriga produce, JSON columns by nested rules, the copy through the
// rules, and the event a branch passes on carrying only obfuscated values. The hash values
// against python's hashlib are in handler-vs-original.compat.test.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { SetApplier } from '../../layers/londiste/apply/applier.ts';
import { buildHandler } from '../../layers/londiste/handlers/index.ts';
import { loadHandlerModules } from '../../layers/londiste/handlers/modules.ts';
import { hash32, hash64, hash128, obfJson, pyJsonDumps } from '../../layers/londiste/handlers/obfuscate.ts';
import { parseYamlMap, readRulesFile } from '../../layers/londiste/handlers/rules-file.ts';
import { dbUrldecode } from '../../layers/londiste/urlenc.ts';
import { silentLogger } from '../../layers/util/log.ts';
import { useTestDatabase } from '../support/db.ts';
import { applyBatch, setupQueue, tableText, takeBatch } from './fixtures/trigger-events.ts';

const db = useTestDatabase();
const Q = 'oq';
const C = 'obf_test';
let client: pg.Client;

const RULES = `# rules as the original's rules.yaml
src.u:
  id: keep
  name: hash        # uuid
  email: hash32
  phone: hash64
  active: bool
  note: skip
  prefs:
    theme: keep
    geo:
      lat: hash32
src.j:
  id: keep
  name: hash
src.ub:
  id: keep
  name: hash32
`;

beforeAll(async () => {
  await setupQueue(db, Q, C);
  await db.query('create schema src; create schema dst');
  for (const [t, trig] of [
    ['u', 'logutriga'],
    ['j', 'jsontriga'],
  ] as const) {
    await db.query(`create table src.${t} (id int primary key, name text, email text, phone text, active text,
      note text, prefs jsonb)`);
    await db.query(
      `create trigger t after insert or update or delete on src.${t} for each row execute procedure pgq.${trig}('${Q}')`,
    );
  }
  await db.query(`create table dst.u (id int primary key, name uuid, email int, phone bigint, active bool, prefs jsonb);
    create table dst.j (id int primary key, name uuid)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'obf-'));
  writeFileSync(path.join(dir, 'rules.yaml'), RULES);
  writeFileSync(path.join(dir, 'job.ini'), '[londiste]\n');
  // as a worker starts: the [londiste] keys reach the handler through loadConf
  await loadHandlerModules({
    modules: [],
    values: { obfuscator_map: 'rules.yaml', obfuscator_key: 'seedForHash' },
    configFile: path.join(dir, 'job.ini'),
  });
  client = await db.connect();
});

describe('rules file', () => {
  it('reads the YAML block mappings, comments and quotes; JSON as well', () => {
    expect(parseYamlMap(RULES)['src.u']).toEqual({
      id: 'keep',
      name: 'hash',
      email: 'hash32',
      phone: 'hash64',
      active: 'bool',
      note: 'skip',
      prefs: { theme: 'keep', geo: { lat: 'hash32' } },
    });
    expect(parseYamlMap("'a.b':\n  \"x y\": 'keep' # c\n")).toEqual({ 'a.b': { 'x y': 'keep' } });
    expect(() => parseYamlMap('a:\n  - keep\n')).toThrow(/expected "key: value"/);
    expect(() => parseYamlMap('a: [keep]\n')).toThrow(/unsupported YAML/);
    const f = path.join(mkdtempSync(path.join(os.tmpdir(), 'obfj-')), 'rules.json');
    writeFileSync(f, JSON.stringify({ 'src.t': { id: 'keep', p: { q: 'hash' } } }));
    expect(readRulesFile(f)).toEqual({ 'src.t': { id: 'keep', p: { q: 'hash' } } });
  });

  it('obf_json keeps, hashes and drops as the original; dumps in python’s layout', () => {
    expect(obfJson({ a: { b: { c: 3 } }, d: [] }, { a: { b: { c: 'skip' } }, d: 'keep' })).toEqual({ d: [] });
    expect(obfJson({ a: { b: { c: 3 } } }, { a: {} })).toBeUndefined();
    expect(pyJsonDumps({ a: 1, b: ['x', null, true], c: 'é' })).toBe(
      '{"a": 1, "b": ["x", null, true], "c": "\\u00e9"}',
    );
  });
});

describe('obfuscate replay and copy', () => {
  it('applies every action to logutriga and jsontriga rows', async () => {
    for (const t of ['u', 'j']) {
      await db.query(`insert into src.${t} values
        (1, 'Ann', 'ann@x', '555-1', 'yes', 'private', '{"theme": "dark", "geo": {"lat": 59, "lon": 24}, "x": 1}'),
        (2, null, null, null, '', 'n', null)`);
      await db.query(`update src.${t} set name = 'Bob' where id = 2`);
    }
    const events = await takeBatch(db, Q, C);
    const handlers = new Map(
      ['u', 'j'].map((t) => [`src.${t}`, buildHandler(`src.${t}`, 'obfuscate', `dst.${t}`)]),
    );
    await applyBatch(client, events, { handlers, applier: new SetApplier() });
    const u = await db.query('select * from dst.u order by id');
    expect(u.rows).toEqual([
      {
        id: 1,
        name: hash128('Ann'),
        email: Number(hash32('ann@x')),
        phone: hash64('555-1'),
        active: true,
        prefs: { theme: 'dark', geo: { lat: Number(hash32(59)) } },
      },
      { id: 2, name: hash128('Bob'), email: null, phone: null, active: false, prefs: null },
    ]);
    expect(await tableText(db, 'dst.j', 'id')).toEqual([`(1,${hash128('Ann')})`, `(2,${hash128('Bob')})`]);
  });

  it('passes on only obfuscated rows below a branch', async () => {
    await db.query(`insert into src.u values (3, 'Cy', 'c@x', '1', 't', 'hidden', null)`);
    const [ev] = await takeBatch(db, Q, C);
    const h = buildHandler('src.u', 'obfuscate', 'dst.u');
    const out = h.copyEvent!(ev!, Q);
    expect(out).not.toBeNull();
    const row = dbUrldecode(out!.data!);
    expect(row).toEqual({
      id: '3',
      name: hash128('Cy'),
      email: String(hash32('c@x')),
      phone: String(hash64('1')),
      active: 't',
      prefs: null,
    });
    expect(out!.data).not.toMatch(/hidden|Cy/);
  });

  it("obfuscates a backup trigger's old row in ev_extra2 too", async () => {
    await db.query(`create table src.ub (id int primary key, name text, other text);
      create trigger t after insert or update or delete on src.ub for each row execute procedure pgq.logutriga('${Q}', 'backup');
      insert into src.ub values (1, 'Old', 'x')`);
    await takeBatch(db, Q, C);
    await db.query(`update src.ub set name = 'New'`);
    const [ev] = await takeBatch(db, Q, C);
    expect(ev!.extra2).toMatch(/Old/);
    const out = buildHandler('src.ub', 'obfuscate').copyEvent!(ev!, Q)!;
    expect(dbUrldecode(out.data!)).toEqual({ id: '1', name: String(hash32('New')) });
    expect(dbUrldecode(out.extra2!)).toEqual({ id: '1', name: String(hash32('Old')) });
  });

  it('copies through the rules', async () => {
    await db.query('truncate dst.u');
    const h = buildHandler('src.u', 'obfuscate', 'dst.u');
    const provider = await db.connect();
    try {
      await provider.query('begin isolation level repeatable read');
      await client.query('begin');
      const res = await h.realCopy!({
        provider,
        local: client,
        sourceTable: 'src.u',
        columns: ['id', 'name', 'email', 'phone', 'active', 'note', 'prefs'],
        log: silentLogger,
      });
      await client.query('commit');
      await provider.query('commit');
      expect(res.rows).toBe(3);
    } finally {
      await provider.end();
    }
    const r = await db.query('select id, name, email from dst.u order by id');
    expect(r.rows).toEqual([
      { id: 1, name: hash128('Ann'), email: Number(hash32('ann@x')) },
      { id: 2, name: hash128('Bob'), email: null },
      { id: 3, name: hash128('Cy'), email: Number(hash32('c@x')) },
    ]);
  });

  it('refuses a table the rules do not name', () => {
    const h = buildHandler('src.other', 'obfuscate');
    expect(() =>
      h.copyEvent!(
        {
          id: 1n,
          time: new Date(),
          txid: 1n,
          retry: null,
          type: 'I:id',
          data: 'id=1',
          extra1: 'src.other',
          extra2: null,
          extra3: null,
          extra4: null,
        },
        Q,
      ),
    ).toThrow(/not in obfuscator_map: src.other/);
  });
});
