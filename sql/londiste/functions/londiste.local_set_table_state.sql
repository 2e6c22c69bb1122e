-- londiste.local_set_table_state(i_queue_name text, i_table_name text, i_snapshot text,
--     i_merge_state text, out ret_code int4, out ret_note text)
--
-- Moves a local table to copy state i_merge_state (see tables.sql), with the snapshot of the
-- copy's source transaction (or NULL). The name is qualified with 'public' when it has no
-- schema.
-- Returns 200 'Table <fqname> state set to <quoted state or NULL>'; 404 'No such table:
-- <fqname>' when the table is not local on this node.
-- Tables: londiste.table_info (update).
create or replace function londiste.local_set_table_state(
    in i_queue_name text,
    in i_table_name text,
    in i_snapshot text,
    in i_merge_state text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
as $$
declare
    fq text := londiste.make_fqname(i_table_name);
begin
    update londiste.table_info t
       set custom_snapshot = i_snapshot, merge_state = i_merge_state
     where t.queue_name = i_queue_name and t.table_name = fq and t.local;
    if not found then
        ret_code := 404;
        ret_note := 'No such table: ' || fq;
        return;
    end if;
    ret_code := 200;
    ret_note := 'Table ' || fq || ' state set to ' || coalesce(quote_literal(i_merge_state), 'NULL');
end;
$$;
