-- londiste.global_remove_table(i_queue_name text, i_table_name text,
--     out ret_code int4, out ret_note text)
--
-- Takes a table out of the queue's set: on a non-root node it is first unregistered locally
-- (londiste.local_remove_table), then its row goes (the table_info trigger drops its
-- replication triggers).
-- Returns 200 'Table removed: <i_table_name>'; 400 'Table not found: <fqname>'. Strict.
-- Errors: an unknown queue raises PN001 (pgq_node.is_root_node).
-- Tables: londiste.table_info (delete).
create or replace function londiste.global_remove_table(
    in i_queue_name text,
    in i_table_name text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
strict
as $$
declare
    fq text := londiste.make_fqname(i_table_name);
begin
    if not pgq_node.is_root_node(i_queue_name) then
        perform londiste.local_remove_table(i_queue_name, fq);
    end if;
    delete from londiste.table_info t where t.queue_name = i_queue_name and t.table_name = fq;
    if not found then
        ret_code := 400;
        ret_note := 'Table not found: ' || fq;
        return;
    end if;
    ret_code := 200;
    ret_note := 'Table removed: ' || i_table_name;
end;
$$;
