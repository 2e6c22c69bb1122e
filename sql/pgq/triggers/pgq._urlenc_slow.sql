-- pgq._urlenc_slow(i_str text) returns text
--
-- URL-encodes a string the way PgQ's C triggers do: bytes [A-Za-z0-9_.-] are kept, space
-- becomes '+', every other byte (of the database encoding) becomes %xx with lowercase hex:
-- pgq._urlenc_ascii for the ASCII part, then pgq._urlenc_nonascii for the rest. Used by
-- pgq._urlenc for strings that need escaping; NULL in, NULL out.
create or replace function pgq._urlenc_slow(i_str text)
returns text
language sql
immutable strict
as $$
    select pgq._urlenc_nonascii(pgq._urlenc_ascii(i_str));
$$;
