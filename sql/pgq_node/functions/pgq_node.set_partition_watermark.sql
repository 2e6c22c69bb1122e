-- pgq_node.set_partition_watermark(i_combined_queue_name text, i_part_queue_name text,
--     i_watermark bigint, out ret_code int4, out ret_note text)
--
-- On a combined branch: moves the position of the merge-leaf (the leaf node of the part
-- queue that feeds i_combined_queue_name) to the partition tick that arrived in a batch of
-- the combined root, so the merge-leaf is in place when this branch becomes root.
-- Returns 200 'Ok'; 201 'Part-queue does not exist' unless the part queue is a leaf feeding
-- the combined queue and the combined queue's node is a branch; 401 'Worker registration not
-- found' when the leaf's worker has no state.
-- Tables: pgq_node.local_state (update); reads pgq_node.node_info.
create or replace function pgq_node.set_partition_watermark(
    in i_combined_queue_name text,
    in i_part_queue_name text,
    in i_watermark bigint,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    part_worker text;
begin
    select p.worker_name into part_worker
      from pgq_node.node_info c
      join pgq_node.node_info p on p.combined_queue = c.queue_name
     where p.queue_name = i_part_queue_name
       and c.queue_name = i_combined_queue_name
       and p.node_type = 'leaf'
       and c.node_type = 'branch';
    if not found then
        ret_code := 201;
        ret_note := 'Part-queue does not exist';
        return;
    end if;

    update pgq_node.local_state w
       set last_tick_id = i_watermark
     where w.queue_name = i_part_queue_name
       and w.consumer_name = part_worker;
    if not found then
        ret_code := 401;
        ret_note := 'Worker registration not found';
        return;
    end if;
    ret_code := 200;
    ret_note := 'Ok';
end;
$$;
