-- pgq_node.is_leaf_node(i_queue_name text) returns bool
--
-- True when the local node of the queue is a leaf (merge-leaves included).
-- Errors: 'queue does not exist: <queue>' (SQLSTATE PN001) when there is no local node.
-- Tables: reads pgq_node.node_info.
create or replace function pgq_node.is_leaf_node(i_queue_name text)
returns bool
language plpgsql
stable
as $$
declare
    ntype text;
begin
    select n.node_type into ntype from pgq_node.node_info n where n.queue_name = i_queue_name;
    if not found then
        raise exception 'queue does not exist: %', i_queue_name using errcode = 'PN001';
    end if;
    return ntype = 'leaf';
end;
$$;
