-- pgq._urlenc_slow(i_str text) returns text
--
-- URL-encodes a string the way PgQ's C triggers do: bytes [A-Za-z0-9_.-] are kept, space
-- becomes '+', every other byte (of the database encoding) becomes %xx with lowercase hex.
-- Used by pgq._urlenc for strings that need escaping; NULL in, NULL out.
create or replace function pgq._urlenc_slow(i_str text)
returns text
language sql
immutable strict
as $$
    select coalesce(pg_catalog.string_agg(
               case when m[1] is not null then pg_catalog.translate(m[1], ' ', '+')
                    else pg_catalog.regexp_replace(
                             pg_catalog.encode(pg_catalog.convert_to(m[2], pg_catalog.getdatabaseencoding()), 'hex'),
                             '(..)', '%\1', 'g')
               end, ''), '')
      from pg_catalog.regexp_matches(i_str, '([-A-Za-z0-9_. ]+)|([^-A-Za-z0-9_. ]+)', 'g') as m;
$$;
