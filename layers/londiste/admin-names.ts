// Which tables or sequences a command's arguments name: the original's globbing
// (LondisteSetup.expand_arg_list / solve_globbing) over the names a command may act on, with the
// errors a script can rely on instead of a log line. Pure: the lists are read by the caller.
import { LondisteError } from './errors.ts';
import { fqName } from './tables.ts';

export interface ExpandInput {
  /** What was typed: names (schema optional: public) and globs with * and ?. */
  args: readonly string[];
  /** --all: every candidate when no names are given. */
  all?: boolean;
  /** The names the command may act on (add: the missing ones; remove: the local ones). */
  candidates: readonly string[];
  /** The names already in the wanted state (add: local; remove: not local) — reported, not acted on. */
  done: readonly string[];
  /** A name in neither list is taken as given (a handler that needs no table). */
  allowUnknown?: boolean;
  /** --force: a name in neither list is taken with a warning instead of an error. */
  force?: boolean;
  /** 'table' / 'sequence', for messages. */
  what: string;
  /** What to do about names not available, appended to the error. */
  hint?: string;
}

export interface Expanded {
  names: string[];
  /** Names skipped because they are already done. */
  already: string[];
  /** Warnings to log (names taken because of --force). */
  warnings: string[];
}

/** '*' any run, '?' one character, '.' literal; no schema means public (the original's rule). */
export function globToRegExp(glob: string): RegExp {
  const g = glob.includes('.') ? glob : `public.${glob}`;
  const body = g.replace(/[\\^$+()[\]{}|.*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`));
  return new RegExp(`^${body}$`);
}

export function isGlob(s: string): boolean {
  return s.includes('*') || s.includes('?');
}

/**
 * The names the arguments stand for, in the order typed (a glob's matches in list order), without
 * repeats. Throws `LondisteError('usage')` when nothing was named, `('not_found')` listing every
 * name that is neither a candidate nor done and every glob that matches nothing at all — before
 * the caller changes anything.
 */
export function expandNames(i: ExpandInput): Expanded {
  const out: Expanded = { names: [], already: [], warnings: [] };
  if (i.args.length === 0) {
    if (i.all) {
      out.names = [...i.candidates];
      return out;
    }
    throw new LondisteError('usage', `no ${i.what} given: name one or more (globs allowed), or use --all`);
  }
  const cand = new Set(i.candidates);
  const done = new Set(i.done);
  const seen = new Set<string>();
  const bad: string[] = [];
  const take = (n: string) => {
    if (!seen.has(n)) {
      seen.add(n);
      out.names.push(n);
    }
  };
  for (const a of i.args) {
    if (!a.trim()) {
      bad.push(JSON.stringify(a));
      continue;
    }
    if (isGlob(a)) {
      const rx = globToRegExp(a);
      const hits = i.candidates.filter((n) => rx.test(n));
      for (const n of hits) take(n);
      const doneHits = i.done.filter((n) => rx.test(n));
      out.already.push(...doneHits.filter((n) => !out.already.includes(n)));
      if (hits.length === 0 && doneHits.length === 0) bad.push(a);
      continue;
    }
    const n = fqName(a);
    if (seen.has(n)) continue;
    if (cand.has(n)) take(n);
    else if (done.has(n)) {
      if (!out.already.includes(n)) out.already.push(n);
    } else if (i.allowUnknown) take(n);
    else if (i.force) {
      out.warnings.push(`${n} not available, but --force is used`);
      take(n);
    } else bad.push(n);
  }
  if (bad.length) {
    throw new LondisteError(
      'not_found',
      `${i.what} not available: ${bad.join(', ')}${i.hint ? ` (${i.hint})` : ''}`,
    );
  }
  return out;
}
