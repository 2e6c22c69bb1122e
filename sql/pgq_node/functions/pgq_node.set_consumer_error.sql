-- pgq_node.set_consumer_error(i_queue_name text, i_consumer_name text, i_error_msg text,
--     out ret_code int4, out ret_note text)
--
-- Stores why a cascaded consumer's current batch failed (shown by status tools; cleared by
-- pgq_node.set_consumer_completed).
-- Returns 100 'Consumer <consumer> error = <msg>'; 101 'Consumer not known, ignoring:
-- <queue>/<consumer>'.
-- Tables: pgq_node.local_state (update).
create or replace function pgq_node.set_consumer_error(
    in i_queue_name text,
    in i_consumer_name text,
    in i_error_msg text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
begin
    update pgq_node.local_state w
       set cur_error = i_error_msg
     where w.queue_name = i_queue_name
       and w.consumer_name = i_consumer_name;
    if found then
        ret_code := 100;
        ret_note := 'Consumer ' || i_consumer_name || ' error = ' || i_error_msg;
    else
        ret_code := 101;
        ret_note := 'Consumer not known, ignoring: ' || i_queue_name || '/' || i_consumer_name;
    end if;
end;
$$;
