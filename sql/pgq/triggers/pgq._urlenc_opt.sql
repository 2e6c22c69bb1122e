-- pgq._urlenc_opt(i_str text) returns text
--
-- Optimistic URL-encoding for the generated logutriga encoders: right for every string made
-- of ASCII (a regex test and one replace() for the common all-safe string, pgq._urlenc_ascii
-- otherwise); non-ASCII characters are left as they are, which the encoder detects on the
-- whole row and then re-encodes it exactly (pgq._urlenc). Inlinable; NULL in, NULL out.
create or replace function pgq._urlenc_opt(i_str text)
returns text
language sql
immutable
as $$
    select case when i_str operator(pg_catalog.!~) '[^-A-Za-z0-9_. ]' then pg_catalog.replace(i_str, ' ', '+')
                else pgq._urlenc_ascii(i_str) end;
$$;
