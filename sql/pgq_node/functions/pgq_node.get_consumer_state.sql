-- pgq_node.get_consumer_state(i_queue_name text, i_consumer_name text,
--     out ret_code int4, out ret_note text, out node_type text, out node_name text,
--     out completed_tick bigint, out provider_node text, out provider_location text,
--     out paused boolean, out uptodate boolean, out cur_error text)
--
-- State of one cascaded consumer of the local node, read at the start of each loop: the
-- local node's type and name, the last completed tick, where its provider is and its flags.
-- Returns ret_code 100 'Ok'; 404 with 'Unknown queue: <queue>', 'Unknown consumer:
-- <queue>/<consumer>' or 'Unknown provider node: <queue>/<node>'.
-- Tables: reads pgq_node.node_info, local_state, node_location.
create or replace function pgq_node.get_consumer_state(
    in i_queue_name text,
    in i_consumer_name text,
    out ret_code int4,
    out ret_note text,
    out node_type text,
    out node_name text,
    out completed_tick bigint,
    out provider_node text,
    out provider_location text,
    out paused boolean,
    out uptodate boolean,
    out cur_error text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
begin
    select n.node_type, n.node_name into node_type, node_name
      from pgq_node.node_info n
     where n.queue_name = i_queue_name;
    if not found then
        ret_code := 404;
        ret_note := 'Unknown queue: ' || i_queue_name;
        return;
    end if;
    select w.last_tick_id, w.provider_node, w.paused, w.uptodate, w.cur_error
      into completed_tick, provider_node, paused, uptodate, cur_error
      from pgq_node.local_state w
     where w.queue_name = i_queue_name
       and w.consumer_name = i_consumer_name;
    if not found then
        ret_code := 404;
        ret_note := 'Unknown consumer: ' || i_queue_name || '/' || i_consumer_name;
        return;
    end if;
    select l.node_location into provider_location
      from pgq_node.node_location l
     where l.queue_name = i_queue_name
       and l.node_name = provider_node;
    if not found then
        ret_code := 404;
        ret_note := 'Unknown provider node: ' || i_queue_name || '/' || provider_node;
        return;
    end if;
    ret_code := 100;
    ret_note := 'Ok';
end;
$$;
