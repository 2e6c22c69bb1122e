// The re-create SQL of a table's dropped structure travels as one text (londiste.table_info.
// dropped_ddl, written before the load and read back when the indexes are rebuilt, possibly by
// another process after a crash). joinDdl writes it; splitDdl reads it back into statements.
// The text is plain `;`-terminated SQL, so the original's copy process (skytools'
// parse_statements) splits it the same way when it finds our text in table_info.

/** One text of statements, each ending with `;` on its own line(s). */
export function joinDdl(statements: readonly string[]): string {
  return statements.map((s) => `${s.trim().replace(/;\s*$/, '')};\n`).join('');
}

/**
 * Splits SQL text into statements (without their terminating `;`, trimmed, empty ones dropped).
 * A `;` ends a statement only outside quotes, dollar quotes, comments and parentheses (a
 * multi-action rule's `DO ( …; … )` is one statement). Plain '…' strings follow
 * standard_conforming_strings (no backslash escapes), E'…' strings do take them.
 */
export function splitDdl(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let depth = 0;
  let i = 0;
  const n = text.length;
  const push = (end: number) => {
    const stmt = text.slice(start, end).trim();
    if (stmt) out.push(stmt);
  };
  while (i < n) {
    const ch = text[i] as string;
    const next = text[i + 1];
    if (ch === '-' && next === '-') {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (ch === '/' && next === '*') {
      i = skipBlockComment(text, i);
    } else if (ch === "'") {
      const escapes = i > 0 && /[eE]/.test(text[i - 1] as string) && !isIdentChar(text[i - 2]);
      i = skipQuoted(text, i, "'", escapes);
    } else if (ch === '"') {
      i = skipQuoted(text, i, '"', false);
    } else if (ch === '$' && !isIdentChar(text[i - 1])) {
      const tag = /^\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(text.slice(i, i + 64));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        if (close < 0) throw new SyntaxError(`unterminated dollar quote ${tag[0]} in DDL text`);
        i = close + tag[0].length;
      } else {
        i++;
      }
    } else if (ch === '(') {
      depth++;
      i++;
    } else if (ch === ')') {
      depth--;
      i++;
    } else if (ch === ';' && depth === 0) {
      push(i);
      start = ++i;
    } else {
      i++;
    }
  }
  if (depth !== 0) throw new SyntaxError('unbalanced parentheses in DDL text');
  push(n);
  return out;
}

function isIdentChar(ch: string | undefined): boolean {
  return ch !== undefined && /[\w$\u0080-\uffff]/.test(ch);
}

function skipQuoted(text: string, from: number, quote: string, backslashEscapes: boolean): number {
  let i = from + 1;
  while (i < text.length) {
    const ch = text[i];
    if (backslashEscapes && ch === '\\') {
      i += 2;
    } else if (ch === quote) {
      if (text[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  throw new SyntaxError(`unterminated ${quote} quote in DDL text`);
}

function skipBlockComment(text: string, from: number): number {
  // PostgreSQL's block comments nest.
  let depth = 0;
  let i = from;
  while (i < text.length) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (text[i] === '*' && text[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  throw new SyntaxError('unterminated /* comment in DDL text');
}
