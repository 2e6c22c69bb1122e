// The house's dependency rules, checked on the tree: layers/ never imports the entry points
// (functions/, infra/, cli/, bin/) nor bench/ or test/, and each layers/ folder imports only what
// the table in layers/README.md allows. A new folder must be added to that table first.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LAYERS = path.join(ROOT, 'layers');

/** Whether an error is a file vanishing under us (test/docs writes temporary files meanwhile). */
const gone = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    try {
      if (statSync(p).isDirectory()) out.push(...tsFiles(p));
      else if (/\.(ts|mjs|js)$/.test(name)) out.push(p);
    } catch (err) {
      if (!gone(err)) throw err;
    }
  }
  return out;
}

/** Relative module specifiers of a file: static imports, re-exports and import(). */
function relativeImports(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (gone(err)) return [];
    throw err;
  }
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)) specs.push(m[1]!);
  return specs;
}

function allowedTable(): Map<string, Set<string>> {
  const readme = readFileSync(path.join(LAYERS, 'README.md'), 'utf8');
  const section = readme.split('## What each folder may import')[1] ?? '';
  const table = new Map<string, Set<string>>();
  for (const m of section.matchAll(/^\| `([a-z-]+)\/` \| ([^|]*) \|$/gm)) {
    const deps = m[2]!.trim() === '—' ? [] : m[2]!.split(',').map((s) => s.trim());
    table.set(m[1]!, new Set(deps));
  }
  return table;
}

describe('dependency rules', () => {
  const table = allowedTable();
  const folders = readdirSync(LAYERS).filter((n) => statSync(path.join(LAYERS, n)).isDirectory());

  it('layers/README.md lists every folder of layers/', () => {
    expect(table.size).toBeGreaterThan(5);
    expect(folders.filter((f) => !table.has(f))).toEqual([]);
  });

  it('each layers/ folder imports only what the table allows, and never an entry point', () => {
    const violations: string[] = [];
    for (const folder of folders) {
      const allowed = table.get(folder) ?? new Set<string>();
      for (const file of tsFiles(path.join(LAYERS, folder))) {
        for (const spec of relativeImports(file)) {
          const target = path.relative(ROOT, path.resolve(path.dirname(file), spec));
          const [top, sub] = target.split(path.sep);
          const rel = path.relative(ROOT, file);
          if (top !== 'layers') violations.push(`${rel} imports ${target} (outside layers/)`);
          else if (sub !== folder && !allowed.has(sub!)) violations.push(`${rel} imports ${target}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('the entry points import layers/, not each other', () => {
    const violations: string[] = [];
    for (const top of ['functions', 'cli', 'infra']) {
      for (const file of tsFiles(path.join(ROOT, top))) {
        for (const spec of relativeImports(file)) {
          const target = path.relative(ROOT, path.resolve(path.dirname(file), spec)).split(path.sep)[0];
          if (target !== top && target !== 'layers' && !(top === 'infra' && target === 'functions')) {
            violations.push(`${path.relative(ROOT, file)} imports ${spec}`);
          }
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
