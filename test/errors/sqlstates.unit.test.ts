// The one SQLSTATE table against the SQL that raises the codes and the README that lists them.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CascadeError, PgqError } from '../../layers/errors/domains.ts';
import { asSkytoolsError } from '../../layers/errors/mapper.ts';
import { SQLSTATES } from '../../layers/errors/sqlstates.ts';
import { README, withTable } from '../../scripts/build-sqlstates-doc.ts';

const SQL = path.resolve(import.meta.dirname, '../../sql');

function sqlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory()
      ? sqlFiles(path.join(dir, d.name))
      : d.name.endsWith('.sql')
        ? [path.join(dir, d.name)]
        : [],
  );
}

/**
 * Every code of ours in `errcode = 'XXnnn'`, also inside generated code (`errcode = ''PQ020''`),
 * by file. Ours are the P classes with a letter (PQ pgq, PN pgq_node, PC pgq_coop); PostgreSQL's
 * own codes (e.g. 42P02, P0001) may be raised too and need no entry.
 */
function raisedCodes(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of sqlFiles(SQL)) {
    for (const m of readFileSync(f, 'utf8').matchAll(/errcode\s*=\s*'{1,2}([0-9A-Z]{5})'{1,2}/g)) {
      if (/^P[A-Z]/.test(m[1]!)) out.set(m[1]!, [...(out.get(m[1]!) ?? []), path.relative(SQL, f)]);
    }
  }
  return out;
}

describe('the SQLSTATE table', () => {
  const raised = raisedCodes();

  it('lists every code the SQL modules raise', () => {
    expect(raised.size).toBeGreaterThan(10);
    const missing = [...raised]
      .filter(([code]) => !(code in SQLSTATES))
      .map(([c, files]) => `${c} (${files[0]})`);
    expect(missing, 'add these to layers/errors/sqlstates.ts').toEqual([]);
  });

  it('lists no code that nothing raises', () => {
    expect(Object.keys(SQLSTATES).filter((c) => !raised.has(c))).toEqual([]);
  });

  it("names each code's module by where it is raised", () => {
    for (const [code, spec] of Object.entries(SQLSTATES)) {
      // Top-level files (preflight.sql) count as pgq: they guard the whole install.
      const modules = new Set(
        raised.get(code)!.map((f) => (f.includes(path.sep) ? f.split(path.sep)[0] : 'pgq')),
      );
      expect([...modules], code).toContain(spec.module);
    }
  });

  it('is what sql/README.md shows (run node scripts/build-sqlstates-doc.ts)', () => {
    const text = readFileSync(README, 'utf8');
    expect(text).toBe(withTable(text));
  });
});

describe('asSkytoolsError', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it.each(Object.entries(SQLSTATES))('maps %s to its domain and kind', (code, spec) => {
    const raw = pgError(code, 'boom');
    const e = asSkytoolsError(raw, { context: 'next_batch for q/c' });
    expect(e).toBeInstanceOf(spec.module === 'pgq' ? PgqError : CascadeError);
    expect(e).toMatchObject({
      kind: spec.kind,
      sqlState: code,
      message: 'next_batch for q/c: boom',
      cause: raw,
    });
  });

  it("keeps the C extension's P0001 message, kind 'unknown', in the caller's domain", () => {
    const raw = pgError('P0001', 'Not subscriber to queue: q/c');
    const pgq = asSkytoolsError(raw);
    expect(pgq).toBeInstanceOf(PgqError);
    expect(pgq).toMatchObject({
      kind: 'unknown',
      sqlState: 'P0001',
      message: 'Not subscriber to queue: q/c',
    });
    expect(asSkytoolsError(raw, { domain: 'cascade' })).toBeInstanceOf(CascadeError);
  });

  it('returns other errors unchanged', () => {
    const unique = pgError('23505', 'duplicate key');
    expect(asSkytoolsError(unique)).toBe(unique);
    const ours = new PgqError('untagged_events', 'x');
    expect(asSkytoolsError(ours, { context: 'again' })).toBe(ours);
    expect(asSkytoolsError('text')).toBe('text');
  });
});
