-- pgq._urlenc_opt(i_str text) returns text
--
-- The ASCII part of the URL-encoding (pgq._urlenc_ascii), for text values in the generated
-- logutriga encoders: a regex test and one replace() for the common all-safe string, else
-- pgq._urlenc_ascii_call (a PL/pgSQL call, so that the long chain is not set up for nothing).
-- Characters outside ASCII are left as they are, for the encoder's one pgq._urlenc_nonascii
-- pass over the whole row. Inlinable; NULL in, NULL out.
create or replace function pgq._urlenc_opt(i_str text)
returns text
language sql
immutable
as $$
    select case when i_str operator(pg_catalog.!~) '[^-A-Za-z0-9_. ]' then pg_catalog.replace(i_str, ' ', '+')
                else pgq._urlenc_ascii_call(i_str) end;
$$;
