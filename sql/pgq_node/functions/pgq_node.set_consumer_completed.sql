-- pgq_node.set_consumer_completed(i_queue_name text, i_consumer_name text, i_tick_id int8,
--     out ret_code int4, out ret_note text)
--
-- Records the last tick a cascaded consumer has committed to the local node; call it in the
-- same transaction as the batch's local writes. Clears the consumer's error.
-- Returns 100 'Consumer <consumer> completed tick = <tick>'; 404 'Consumer not known:
-- <queue>/<consumer>'.
-- Errors: a NULL tick violates local_state's NOT NULL.
-- Tables: pgq_node.local_state (update).
create or replace function pgq_node.set_consumer_completed(
    in i_queue_name text,
    in i_consumer_name text,
    in i_tick_id int8,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
begin
    update pgq_node.local_state w
       set last_tick_id = i_tick_id,
           cur_error = null
     where w.queue_name = i_queue_name
       and w.consumer_name = i_consumer_name;
    if found then
        ret_code := 100;
        ret_note := 'Consumer ' || i_consumer_name || ' completed tick = ' || i_tick_id::text;
    else
        ret_code := 404;
        ret_note := 'Consumer not known: ' || i_queue_name || '/' || i_consumer_name;
    end if;
end;
$$;
