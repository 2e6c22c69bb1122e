-- londiste.local_set_table_struct(i_queue_name text, i_table_name text, i_dropped_ddl text,
--     out ret_code int4, out ret_note text)
--
-- Keeps the DDL of indexes and constraints a copy took off a local table, to put them back
-- when the copy ends (NULL clears it). The table's state must be 'in-copy' or 'catching-up'
-- for a non-NULL value (check on londiste.table_info). The name must be given as stored.
-- Returns 200 'Table struct stored'; 404 'no such local table: <table>'.
-- Errors: DDL outside a copy violates the check of londiste.table_info (23514).
-- Tables: londiste.table_info (update).
create or replace function londiste.local_set_table_struct(
    in i_queue_name text,
    in i_table_name text,
    in i_dropped_ddl text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
as $$
begin
    update londiste.table_info t
       set dropped_ddl = i_dropped_ddl
     where t.queue_name = i_queue_name and t.table_name = i_table_name and t.local;
    if found then
        ret_code := 200;
        ret_note := 'Table struct stored';
    else
        ret_code := 404;
        ret_note := 'no such local table: ' || i_table_name;
    end if;
end;
$$;
