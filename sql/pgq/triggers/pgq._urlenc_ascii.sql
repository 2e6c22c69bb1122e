-- pgq._urlenc_ascii(i_str text) returns text
--
-- URL-encoding of the C triggers for the ASCII part of a string: every printable ASCII
-- character outside [A-Za-z0-9_.-] and tab, newline, carriage return become %xx (lowercase
-- hex), then space becomes '+'. Other characters (non-ASCII, other control characters) are
-- left as they are: pgq._urlenc_slow encodes them. NULL in, NULL out.
-- One expression of replace() calls, so that the planner inlines it into the generated
-- encoders: on a short string a replace() that finds nothing costs a fraction of a
-- microsecond, far less than splitting the string (what made logutriga 3x slower than C).
-- '%' goes first (later replacements add '%'), '+' before the space becomes '+'.
create or replace function pgq._urlenc_ascii(i_str text)
returns text
language sql
immutable
as $$
    select pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace($1, '%', '%25'), '!', '%21'), '"', '%22'), '#', '%23'), '$', '%24'), '&', '%26'), '''', '%27'), '(', '%28'), ')', '%29'), '*', '%2a'), '+', '%2b'), ',', '%2c'), '/', '%2f'), ':', '%3a'), ';', '%3b'), '<', '%3c'), '=', '%3d'), '>', '%3e'), '?', '%3f'), '@', '%40'), '[', '%5b'), '\', '%5c'), ']', '%5d'), '^', '%5e'), '`', '%60'), '{', '%7b'), '|', '%7c'), '}', '%7d'), '~', '%7e'), E'\t', '%09'), E'\n', '%0a'), E'\r', '%0d'), ' ', '+');
$$;
