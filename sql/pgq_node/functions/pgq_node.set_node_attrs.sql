-- pgq_node.set_node_attrs(i_queue_name text, i_node_attrs text,
--     out ret_code int4, out ret_note text)
--
-- Stores the node's attributes for its worker (urlencoded key=value pairs, e.g.
-- sync_watermark=...), replacing the previous ones.
-- Returns 200 'Node attributes updated'; 404 'Node not found' without a local node.
-- Tables: pgq_node.node_info (update).
create or replace function pgq_node.set_node_attrs(
    in i_queue_name text,
    in i_node_attrs text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
begin
    update pgq_node.node_info n
       set node_attrs = i_node_attrs
     where n.queue_name = i_queue_name;
    if not found then
        ret_code := 404;
        ret_note := 'Node not found';
        return;
    end if;
    ret_code := 200;
    ret_note := 'Node attributes updated';
end;
$$;
