// The copy's pure parts: the dropped_ddl text (join → split gives the statements back, `;` inside
// quotes, dollar quotes, comments and a rule's parentheses does not split), and the progress
// meter's rate / ETA. (Rows are counted as CopyData messages: copy-frames.unit.test.ts.)
import { describe, expect, it } from 'vitest';
import { joinDdl, splitDdl } from '../../layers/londiste/copy/ddl-text.ts';
import { ProgressMeter } from '../../layers/londiste/copy/progress.ts';
import { quoteLiteral } from '../../layers/londiste/copy/structure.ts';
import { createLogger } from '../../layers/util/log.ts';

describe('dropped_ddl text', () => {
  const statements = [
    `ALTER TABLE "a;b"."t""x" ADD CONSTRAINT "c;1" CHECK (v <> ';' AND v <> 'it''s;')`,
    `CREATE RULE r AS ON INSERT TO t DO ( INSERT INTO l VALUES (new.v); INSERT INTO l VALUES ('(;'); )`,
    `COMMENT ON INDEX s.i IS E'back\\\\slash \\' quote; semi'`,
    'CREATE INDEX i ON t USING btree (f($q$;$q$))',
    'CREATE INDEX j ON t USING btree ((v || $$;)$$))',
    `COMMENT ON INDEX s.k IS 'plain \\ backslash;'`,
    'ALTER TABLE ONLY t INHERIT p',
  ];

  it('splits the joined text back into the same statements', () => {
    const text = joinDdl(statements);
    expect(text.endsWith(';\n')).toBe(true);
    expect(splitDdl(text)).toEqual(statements);
  });

  it('skips comments and empty statements, takes a last statement without ;', () => {
    expect(splitDdl('-- one; two\n/* a; /* nested; */ b; */ select 1;;\n select 2')).toEqual([
      '-- one; two\n/* a; /* nested; */ b; */ select 1',
      'select 2',
    ]);
  });

  it('rejects unterminated quotes and unbalanced parentheses', () => {
    expect(() => splitDdl("select 'x")).toThrow(/unterminated ' quote/);
    expect(() => splitDdl('select $a$ x')).toThrow(/unterminated dollar quote/);
    expect(() => splitDdl('select (1')).toThrow(/unbalanced parentheses/);
  });

  it('quotes literals as quote_literal does', () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
  });
});

describe('ProgressMeter', () => {
  it('reports at most once per interval, with rate and ETA from the estimate, and a final report', () => {
    let t = 1000;
    const lines: string[] = [];
    const seen: { rows: number; etaMs: number | null; fraction: number | null; done: boolean }[] = [];
    const meter = new ProgressMeter({
      table: 'public.t',
      estimate: { rows: 1000, relationBytes: 8192 },
      intervalMs: 5000,
      now: () => t,
      onProgress: (p) => seen.push(p),
      logger: createLogger({ level: 'info', json: true, write: (l) => lines.push(l) }),
    });
    t += 1000;
    meter.add(100, 1000); // before the interval: nothing
    expect(seen).toEqual([]);
    t += 4000;
    meter.add(150, 1500); // 250 rows in 5 s: 50 rows/s, 750 left → 15 s
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ rows: 250, fraction: 0.25, etaMs: 15000, done: false });
    expect(meter.snapshot()).toMatchObject({ rowsPerSec: 50, bytesPerSec: 500 });
    t += 1000;
    meter.add(10, 10);
    expect(seen).toHaveLength(1);
    const last = meter.finish(900);
    expect(last).toMatchObject({
      rows: 900,
      bytes: 2510,
      fraction: 1,
      etaMs: 0,
      done: true,
      elapsedMs: 6000,
    });
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { msg: 'copy progress', table: 'public.t', rows: 250, rate: '50 rows/s', percent: 25, eta: '15s' },
      { msg: 'copy finished', table: 'public.t', rows: 900, bytes: 2510, seconds: 6 },
    ]);
  });

  it('has no fraction or ETA without an estimate (never analyzed)', () => {
    const meter = new ProgressMeter({ table: 't', estimate: { rows: null, relationBytes: 0 }, now: () => 0 });
    meter.add(5, 50);
    expect(meter.snapshot()).toMatchObject({ rows: 5, estimatedRows: null, fraction: null, etaMs: null });
  });
});
