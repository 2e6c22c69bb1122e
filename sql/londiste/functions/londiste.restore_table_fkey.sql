-- londiste.restore_table_fkey(i_from_table text, i_fkey_name text, i_lazy boolean default false)
--     returns text
--
-- Puts back a foreign key set aside by londiste.drop_table_fkey. At once (i_lazy false): runs
-- its definition and forgets it; returns ''. In steps (i_lazy true), for a large table where a
-- validating ALTER would hold the lock long, the caller runs each statement returned and calls
-- again: first '<definition> not valid' (the key is missing), then 'alter table only <table>
-- validate constraint <name>' (it is not validated yet), then '' once it is valid (and it is
-- forgotten). Returns '' also when nothing is pending under that name. Strict.
-- Errors: those of the definition (e.g. rows that violate the key).
-- Tables: londiste.pending_fkeys (row lock, delete); pg_catalog.pg_constraint (read); the table.
create or replace function londiste.restore_table_fkey(
    i_from_table text,
    i_fkey_name text,
    i_lazy boolean default false)
returns text
language plpgsql
strict
as $$
declare
    fk          record;
    validated   boolean;
begin
    select * into fk
      from londiste.pending_fkeys f
     where f.fkey_name = i_fkey_name and f.from_table = i_from_table
       for update;
    if not found then
        return '';
    end if;
    if i_lazy then
        select c.convalidated into validated
          from pg_catalog.pg_constraint c
         where c.contype = 'f'
           and c.conrelid = londiste.find_table_oid(i_from_table)
           and c.conname = i_fkey_name;
        if not found then
            return fk.fkey_def || ' not valid';
        elsif not validated then
            return 'alter table only ' || londiste.quote_fqname(fk.from_table)
                || ' validate constraint ' || quote_ident(fk.fkey_name);
        end if;
    else
        execute fk.fkey_def;
    end if;
    delete from londiste.pending_fkeys f
     where f.fkey_name = fk.fkey_name and f.from_table = fk.from_table;
    return '';
end;
$$;
