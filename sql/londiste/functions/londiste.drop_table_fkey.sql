-- londiste.drop_table_fkey(i_from_table text, i_fkey_name text) returns integer
--
-- Sets foreign key i_fkey_name of table i_from_table aside for a copy: its definition goes to
-- londiste.pending_fkeys (londiste.find_table_fkeys gives it) and the constraint is dropped.
-- i_from_table is 'schema.table' as find_table_fkeys spells it.
-- Returns 1, or 0 when the table has no such foreign key. Strict.
-- Errors: a unique violation when the key is already pending under that name.
-- Tables: londiste.pending_fkeys (insert); the table (alter table drop constraint).
create or replace function londiste.drop_table_fkey(i_from_table text, i_fkey_name text)
returns integer
language plpgsql
strict
as $$
declare
    fk record;
begin
    select * into fk
      from londiste.find_table_fkeys(i_from_table) f
     where f.fkey_name = i_fkey_name and f.from_table = i_from_table;
    if not found then
        return 0;
    end if;
    insert into londiste.pending_fkeys (from_table, to_table, fkey_name, fkey_def)
    values (fk.from_table, fk.to_table, i_fkey_name, fk.fkey_def);
    execute 'alter table only ' || londiste.quote_fqname(fk.from_table)
         || ' drop constraint ' || quote_ident(i_fkey_name);
    return 1;
end;
$$;
