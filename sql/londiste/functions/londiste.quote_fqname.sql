-- londiste.quote_fqname(i_name text) returns text
--
-- The name ready for SQL text: schema and name (londiste.split_fqname) each through
-- quote_ident, joined by a dot. Strict. Tables: none.
create or replace function londiste.quote_fqname(i_name text)
returns text
language sql
strict
immutable
as $$
    select quote_ident(p.schema_part) || '.' || quote_ident(p.name_part)
      from londiste.split_fqname(i_name) p;
$$;
