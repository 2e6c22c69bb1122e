-- pgq._urlenc_ascii(i_str text) returns text
--
-- URL-encoding of the C triggers for the ASCII part of a string: every printable ASCII
-- character outside [A-Za-z0-9_.-] and tab, newline, carriage return become %xx (lowercase
-- hex), then space becomes '+'. Other characters (non-ASCII, other control characters) are
-- left as they are: pgq._urlenc_slow encodes them. NULL in, NULL out.
-- One expression of replace() calls: on a short string a replace() that finds nothing costs a
-- fraction of a microsecond, far less than splitting the string (what made logutriga 3x slower
-- than C). '%' goes first (later replacements add '%'), '+' before the space becomes '+'.
-- PL/pgSQL, not an inlinable SQL function, on purpose: inlined into an encoder, its 33 calls
-- were set up (an ACL check each) in every transaction even when no value needed them — a
-- quarter of a one-row transaction's trigger cost. As a call, only the rows whose values have
-- special characters pay for it (pgq._urlenc_opt sends the others past it).
create or replace function pgq._urlenc_ascii(i_str text)
returns text
language plpgsql
immutable strict
as $$
begin
    return pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace($1, '%', '%25'), '!', '%21'), '"', '%22'), '#', '%23'), '$', '%24'), '&', '%26'), '''', '%27'), '(', '%28'), ')', '%29'), '*', '%2a'), '+', '%2b'), ',', '%2c'), '/', '%2f'), ':', '%3a'), ';', '%3b'), '<', '%3c'), '=', '%3d'), '>', '%3e'), '?', '%3f'), '@', '%40'), '[', '%5b'), '\', '%5c'), ']', '%5d'), '^', '%5e'), '`', '%60'), '{', '%7b'), '|', '%7c'), '}', '%7d'), '~', '%7e'), E'\t', '%09'), E'\n', '%0a'), E'\r', '%0d'), ' ', '+');
end;
$$;
