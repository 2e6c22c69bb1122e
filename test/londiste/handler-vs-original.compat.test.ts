// Handler strings against python3-londiste's own create_handler_string / _parse_handler: what
// either side writes into table_attrs, the other reads back to the same name and arguments.
// (The original's C urlencoder writes lowercase %xx, ours uppercase; both decode either.)
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createHandlerString, parseHandlerString } from '../../layers/londiste/handler.ts';

const PY = process.env.PGQ_PYTHON ?? '/usr/bin/python3';
const ready = spawnSync(PY, ['-c', 'import londiste.handler']).status === 0;
if (!ready)
  console.warn(`compat (handler strings vs python3-londiste) skipped: ${PY} cannot import londiste`);

const SCRIPT = `
import json, sys
import londiste.handler as h
cases = json.load(sys.stdin)
out = []
for name, args, ours in cases:
    mine = h.create_handler_string(name, args)
    out.append({"theirs": mine, "parsed_theirs": h._parse_handler(mine), "parsed_ours": h._parse_handler(ours)})
json.dump(out, sys.stdout)
`;

const CASES: [string, string[]][] = [
  ['londiste', []],
  ['londiste', ['ignore_truncate=1']],
  ['londiste', ['ignore_truncate=0', 'encoding=utf8']],
  ['bulk', ['method=2', ' spaced = out ']],
  ['dispatch', ['part_field=ts', 'period=day', 'key']],
  ['x', ['a=b c&d,e=f', 'k=ü', 'q=%2B+']],
];

describe.skipIf(!ready)('handler strings vs python3-londiste', () => {
  it('read back to the same name and arguments both ways', () => {
    const input = CASES.map(([n, a]) => [n, a, createHandlerString(n, a)]);
    const r = spawnSync(PY, ['-c', SCRIPT], { input: JSON.stringify(input), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as {
      theirs: string;
      parsed_theirs: [string, object];
      parsed_ours: [string, object];
    }[];
    expect(out).toHaveLength(CASES.length);
    out.forEach((o, i) => {
      const ours = parseHandlerString(input[i]![2] as string);
      // python reads our string as we do
      expect(o.parsed_ours).toEqual([ours.name, { ...ours.args }]);
      // we read python's string as python does
      const theirs = parseHandlerString(o.theirs);
      expect([theirs.name, { ...theirs.args }]).toEqual(o.parsed_theirs);
      // and the bytes differ at most in the case of %xx escapes
      expect(o.theirs.replace(/%[0-9a-f]{2}/gi, (m) => m.toUpperCase())).toBe(input[i]![2]);
    });
  });
});
