-- londiste.find_column_types(tbl text) returns text
--
-- The column-type string the event triggers take: one letter per live column of table tbl in
-- attnum order, 'k' for a primary-key column, 'v' for any other. An unknown table gives ''.
-- Unlike londiste 3.8, which pairs the key index's column positions with the table's column
-- numbers (after a dropped column it may find no key at all, or mark the wrong columns), the
-- letters sit on the key columns themselves.
-- Strict. Tables: pg_catalog.pg_attribute, pg_index (read).
create or replace function londiste.find_column_types(tbl text)
returns text
language sql
strict
stable
as $$
    with t as (select londiste.find_table_oid(tbl) as oid)
    select coalesce(string_agg(
               case when exists (select 1 from pg_catalog.pg_index i
                                  where i.indrelid = t.oid and i.indisprimary
                                    and a.attnum = any (i.indkey::int2[]))
                    then 'k' else 'v' end, '' order by a.attnum), '')
      from t
      join pg_catalog.pg_attribute a on a.attrelid = t.oid
     where a.attnum > 0 and not a.attisdropped;
$$;
