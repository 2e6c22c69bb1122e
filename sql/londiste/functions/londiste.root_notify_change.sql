-- londiste.root_notify_change(i_queue_name text, i_ev_type text, i_ev_data text) returns integer
--
-- On the root, puts an event (type i_ev_type, data i_ev_data) into the queue, so every node
-- downstream learns of a table or sequence change (londiste.remove-table, londiste.remove-seq).
-- Returns 1.
-- Errors: not the root of i_queue_name raises 'only root node can send events' (55000);
-- an unknown queue raises PN001 (pgq_node.is_root_node).
-- Tables: pgq's event tables (insert, pgq.insert_event).
create or replace function londiste.root_notify_change(i_queue_name text, i_ev_type text, i_ev_data text)
returns integer
language plpgsql
as $$
begin
    if not coalesce(pgq_node.is_root_node(i_queue_name), false) then
        raise exception 'only root node can send events' using errcode = '55000';
    end if;
    perform pgq.insert_event(i_queue_name, i_ev_type, i_ev_data);
    return 1;
end;
$$;
