-- londiste.make_fqname(i_name text) returns text
--
-- The schema-qualified form of a name: unchanged when it has a dot, else 'public.<name>'.
-- This is the form londiste.table_info and londiste.seq_info store. Strict. Tables: none.
create or replace function londiste.make_fqname(i_name text)
returns text
language sql
strict
immutable
as $$
    select case when position('.' in i_name) > 0 then i_name else 'public.' || i_name end;
$$;
