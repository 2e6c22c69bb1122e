-- pgq._grant_perms_from(src_schema text, src_table text, dst_schema text, dst_table text) returns integer
--
-- Internal. Copies the table privileges of src onto dst (CREATE TABLE LIKE does not copy
-- grants). Returns 1.
create or replace function pgq._grant_perms_from(src_schema text, src_table text, dst_schema text, dst_table text)
returns integer
language plpgsql strict
as $$
declare
    g record;
    target text := quote_ident(dst_schema) || '.' || quote_ident(dst_table);
begin
    for g in
        select grantee, privilege_type, is_grantable
          from information_schema.table_privileges
         where table_schema = src_schema and table_name = src_table
    loop
        execute 'grant ' || g.privilege_type || ' on ' || target || ' to '
            || case when g.grantee = 'PUBLIC' then 'public' else quote_ident(g.grantee) end
            || case when g.is_grantable = 'YES' then ' with grant option' else '' end;
    end loop;
    return 1;
end;
$$;
