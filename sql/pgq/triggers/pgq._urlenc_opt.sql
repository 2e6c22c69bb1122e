-- pgq._urlenc_opt(i_str text) returns text
--
-- URL-encoding of a text value in the generated logutriga encoders: a regex test and one
-- replace() for the common string of letters, digits, '-', '_', '.' and spaces, else
-- pgq._urlenc_call (a PL/pgSQL call, so that the long chain is not set up for nothing).
-- Inlinable; NULL in, NULL out.
create or replace function pgq._urlenc_opt(i_str text)
returns text
language sql
immutable
as $$
    select case when (i_str collate "C") operator(pg_catalog.!~) '[^-A-Za-z0-9_. ]' then pg_catalog.replace(i_str collate "C", ' ', '+')
                else pgq._urlenc_call(i_str) end;
$$;
