-- londiste.get_table_pending_fkeys(i_table_name text) returns setof londiste.pending_fkeys
--
-- The foreign keys set aside (londiste.drop_table_fkey) that start or end at table
-- i_table_name (qualified, as stored), ordered by from_table, to_table, fkey_name. Strict.
-- Tables: londiste.pending_fkeys (read).
create or replace function londiste.get_table_pending_fkeys(i_table_name text)
returns setof londiste.pending_fkeys
language sql
strict
stable
as $$
    select f.*
      from londiste.pending_fkeys f
     where f.from_table = i_table_name or f.to_table = i_table_name
     order by 1, 2, 3;
$$;
