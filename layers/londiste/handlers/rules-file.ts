// The obfuscator_map file: per table, per column, an action or (for a JSON column) nested rules.
// The original reads it as YAML; this reads JSON, and the YAML the map is written in — nested
// block mappings of plain or quoted scalars, `#` comments — so the original's rules.yaml works
// unchanged. Anything else in YAML (lists, anchors, flow style other than JSON) is refused.
import { readFileSync } from 'node:fs';
import { LondisteError } from '../errors.ts';

export type Rules = { [name: string]: string | Rules };

export function readRulesFile(path: string): Record<string, Rules> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LondisteError('usage', `obfuscator_map ${path}: ${(err as Error).message}`);
  }
  const parsed = text.trimStart().startsWith('{') ? parseJson(text, path) : parseYamlMap(text, path);
  for (const [table, rules] of Object.entries(parsed)) {
    if (typeof rules !== 'object')
      throw new LondisteError('usage', `obfuscator_map ${path}: table ${table} needs a mapping of columns`);
  }
  return parsed as Record<string, Rules>;
}

function parseJson(text: string, path: string): Rules {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new LondisteError('usage', `obfuscator_map ${path}: ${(err as Error).message}`);
  }
  const check = (x: unknown, where: string): Rules => {
    if (x === null || typeof x !== 'object' || Array.isArray(x))
      throw new LondisteError('usage', `obfuscator_map ${path}: ${where} is not a mapping`);
    const out: Rules = {};
    for (const [k, val] of Object.entries(x))
      out[k] = typeof val === 'string' ? val : check(val, `${where}.${k}`);
    return out;
  };
  return check(v, 'the top level');
}

function unquote(s: string, path: string, line: number): string {
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) return JSON.parse(s) as string;
  if (s.length >= 2 && s.startsWith("'") && s.endsWith("'")) return s.slice(1, -1).replaceAll("''", "'");
  if (/^[[{&*!|>]/.test(s))
    throw new LondisteError('usage', `obfuscator_map ${path}:${line}: unsupported YAML: ${s}`);
  return s;
}

/** A comment starts at '#' at the line's start or after whitespace, outside quotes. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/** Nested block mappings: `key: value` and `key:` followed by more-indented lines. */
export function parseYamlMap(text: string, path = 'map'): Rules {
  const root: Rules = {};
  const stack: { indent: number; node: Rules }[] = [{ indent: -1, node: root }];
  let pendingKey: { parent: Rules; key: string; indent: number } | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const noComment = stripComment(raw);
    if (!noComment.trim() || noComment.trim() === '---') return;
    const indent = noComment.length - noComment.trimStart().length;
    const body = noComment.trim();
    const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:]+?)\s*:(?:\s+(.*))?$/.exec(body);
    if (!m) throw new LondisteError('usage', `obfuscator_map ${path}:${lineNo}: expected "key: value"`);
    if (pendingKey) {
      if (indent <= pendingKey.indent)
        throw new LondisteError(
          'usage',
          `obfuscator_map ${path}:${lineNo}: empty value for ${pendingKey.key}`,
        );
      const node: Rules = {};
      pendingKey.parent[pendingKey.key] = node;
      stack.push({ indent, node });
      pendingKey = null;
    } else {
      while (stack.length > 1 && indent < stack.at(-1)!.indent) stack.pop();
    }
    const top = stack.at(-1)!;
    if (top.indent < 0) top.indent = indent;
    if (indent !== top.indent)
      throw new LondisteError('usage', `obfuscator_map ${path}:${lineNo}: bad indentation`);
    const key = unquote(m[1]!.trim(), path, lineNo);
    const value = m[2]?.trim();
    if (value === undefined || value === '') pendingKey = { parent: top.node, key, indent };
    else top.node[key] = value === '{}' ? {} : unquote(value, path, lineNo);
  });
  if (pendingKey) {
    const p = pendingKey as { parent: Rules; key: string };
    throw new LondisteError('usage', `obfuscator_map ${path}: empty value for ${p.key}`);
  }
  return root;
}
