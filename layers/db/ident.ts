// SQL identifier helpers. Values always travel as parameters; identifiers that must be spliced
// into SQL text go through quoteIdent, which matches PostgreSQL's quote_ident().

const SAFE_IDENT = /^[a-z_][a-z0-9_$]*$/;

// Keywords that quote_ident() always quotes (reserved and type-function-name categories).
const RESERVED = new Set(
  (
    'all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate ' +
    'collation column concurrently constraint create cross current_catalog current_date current_role ' +
    'current_schema current_time current_timestamp current_user default deferrable desc distinct do else ' +
    'end except false fetch for foreign freeze from full grant group having ilike in initially inner ' +
    'intersect into is isnull join lateral leading left like limit localtime localtimestamp natural not ' +
    'notnull null offset on only or order outer overlaps placing primary references returning right select ' +
    'session_user similar some symmetric system_user table tablesample then to trailing true union unique ' +
    'user using variadic verbose when where window with'
  ).split(' '),
);

export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new TypeError(`identifier contains a NUL byte: ${JSON.stringify(name)}`);
  if (SAFE_IDENT.test(name) && !RESERVED.has(name)) return name;
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes "schema.name" the way pgq.quote_fqname() does: no dot means schema public. */
export function quoteFqname(name: string): string {
  const dot = name.indexOf('.');
  if (dot < 0) return `public.${quoteIdent(name)}`;
  return `${quoteIdent(name.slice(0, dot))}.${quoteIdent(name.slice(dot + 1))}`;
}

/**
 * A string as an SQL literal, for the few places where a value must be part of SQL text (an
 * event filter handed to the server as a condition); everywhere else values are parameters.
 * Backslashes make it an E'' literal, so the result means the same whatever
 * standard_conforming_strings is.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new TypeError('literal contains a NUL byte');
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}
