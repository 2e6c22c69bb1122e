-- pgq._urlenc(i_str text) returns text
--
-- URL-encoding of PgQ's C triggers (see pgq._urlenc_slow). Inlinable: strings made only of
-- [A-Za-z0-9_.-] and spaces take a regex test and a replace(); others go to
-- pgq._urlenc_slow. NULL in, NULL out.
create or replace function pgq._urlenc(i_str text)
returns text
language sql
immutable
as $$
    select case when i_str operator(pg_catalog.!~) '[^-A-Za-z0-9_. ]' then pg_catalog.replace(i_str, ' ', '+')
                else pgq._urlenc_slow(i_str) end;
$$;
