-- londiste._coordinate_copy(i_queue_name text, i_table_name text,
--     out copy_role text, out copy_pos int4)
--
-- Internal (londiste.get_table_list). When several queues copy into the same destination table
-- (a merge-leaf: the queues share a combined queue, or none has one), the copy processes take
-- turns: one, the lead, drops the table's indexes and constraints (dropped_ddl) and puts them
-- back at the end; the others wait for it. The parts are the local rows of every such queue
-- for the same destination that are not 'ok' yet; the lead is the first queue (by name) whose
-- part has dropped_ddl, else the first queue with a local part.
-- copy_role:
--   lead         the lead's part in 'in-copy' while some parts are still in copy: drop the
--                DDL, copy, go to catching-up and wait until the role clears
--   wait-copy    a follower in 'in-copy' while the lead has not dropped the DDL and no part
--                has left copy: wait before copying
--   wait-replay  a follower that may copy (the lead dropped the DDL, or others are past copy
--                so the DDL stays) and then waits in catching-up for the lead; the lead in
--                catching-up with its DDL dropped while others still copy; a late lead part
--                (no DDL dropped while others are done) that copies with the DDL in place
--   NULL         nothing to coordinate (one part, or the table is not in copy)
-- copy_pos: the number of parts of queues sorting before this one that are 'in-copy' while
-- this part is 'in-copy' too (its place in a parallel copy), 0 for the lead; NULL with the
-- role when the table is not registered in the queue. Strict.
-- Tables: londiste.table_info, pgq_node.node_info (read).
create or replace function londiste._coordinate_copy(
    in i_queue_name text,
    in i_table_name text,
    out copy_role text,
    out copy_pos int4)
returns record
language plpgsql
strict
stable
as $$
declare
    my_state    text;
    my_ddl      text;
    first_q     text;   -- first queue with a local part
    first_ddl_q text;   -- first queue whose local part has dropped its DDL
    n_parts     int4;   -- local parts
    n_done      int4;   -- local parts past 'in-copy'
    lead_q      text;
begin
    copy_role := null;
    copy_pos := 0;
    select t.merge_state, t.dropped_ddl,
           min(t2.queue_name) filter (where t2.local),
           min(t2.queue_name) filter (where t2.local and t2.dropped_ddl is not null),
           count(*) filter (where t2.local),
           count(*) filter (where t2.local and t2.merge_state <> 'in-copy'),
           count(*) filter (where t2.queue_name < i_queue_name
                              and t.merge_state = 'in-copy' and t2.merge_state = 'in-copy')
      into my_state, my_ddl, first_q, first_ddl_q, n_parts, n_done, copy_pos
      from londiste.table_info t
      join pgq_node.node_info n on n.queue_name = t.queue_name
      left join pgq_node.node_info n2
        on n2.combined_queue = n.combined_queue
        or (n2.combined_queue is null and n.combined_queue is null)
      left join londiste.table_info t2
        on coalesce(t2.dest_table, t2.table_name) = coalesce(t.dest_table, t.table_name)
       and t2.queue_name = n2.queue_name
       and (t2.merge_state is null or t2.merge_state <> 'ok')
     where t.queue_name = i_queue_name and t.table_name = i_table_name
     group by t.merge_state, t.dropped_ddl;

    -- a part that dropped the DDL leads, even if it joined late
    lead_q := coalesce(first_ddl_q, first_q);
    if n_parts = 1 or lead_q is null then
        return;
    end if;
    if i_queue_name = lead_q then
        if my_state = 'in-copy' then
            if my_ddl is null and n_done > 0 then
                -- others are past copy with the DDL in place: copy with it too
                copy_role := 'wait-replay';
            elsif n_done < n_parts then
                copy_role := 'lead';
            end if;
            -- the lead never waits for its turn
            copy_pos := 0;
        elsif my_state = 'catching-up' and my_ddl is not null and n_done < n_parts then
            copy_role := 'wait-replay';
        end if;
    elsif my_state = 'in-copy' then
        if first_ddl_q is not null or n_done > 0 then
            copy_role := 'wait-replay';
        else
            copy_role := 'wait-copy';
        end if;
    elsif my_state = 'catching-up' and first_ddl_q is not null then
        copy_role := 'wait-replay';
    end if;
end;
$$;
