-- londiste.get_valid_pending_fkeys(i_queue_name text) returns setof londiste.pending_fkeys
--
-- The foreign keys set aside for a copy that the replay of queue i_queue_name may put back
-- now: both tables are local in some queue here, every local registration of both (by
-- destination table) is 'ok' without a copy snapshot pending, at least one of them belongs to
-- i_queue_name, and i_queue_name is the queue that restores it: of the queues carrying either
-- table, the first that feeds a combined root, else the first whose combined queue is a branch
-- (taken by the combined queue's name), else the first. Keys whose tables are not local
-- anywhere here are left alone. Ordered by from_table, to_table, fkey_name. Strict.
-- Tables: londiste.pending_fkeys, londiste.table_info, pgq_node.node_info (read).
create or replace function londiste.get_valid_pending_fkeys(i_queue_name text)
returns setof londiste.pending_fkeys
language sql
strict
stable
as $$
    with sides as (
        -- per pending key and side: local registrations, how many in this queue, how many done
        select f.from_table, f.fkey_name, s.side,
               count(t.table_name) as n_total,
               count(t.table_name) filter (where t.queue_name = i_queue_name) as n_mine,
               count(t.table_name) filter (where t.merge_state = 'ok' and t.custom_snapshot is null)
                   as n_ok
          from londiste.pending_fkeys f
          cross join lateral (values ('from', f.from_table), ('to', f.to_table)) s (side, tbl)
          left join londiste.table_info t
            on coalesce(t.dest_table, t.table_name) = s.tbl and t.local
         group by f.from_table, f.fkey_name, s.side)
    select f.*
      from londiste.pending_fkeys f
      join sides fs on fs.from_table = f.from_table and fs.fkey_name = f.fkey_name and fs.side = 'from'
      join sides ts on ts.from_table = f.from_table and ts.fkey_name = f.fkey_name and ts.side = 'to'
     where fs.n_total > 0 and ts.n_total > 0
       and fs.n_ok >= fs.n_total and ts.n_ok >= ts.n_total
       and (fs.n_mine > 0 or ts.n_mine > 0)
       and i_queue_name = (
            select coalesce(min(t.queue_name) filter (where c.node_type = 'root'),
                            min(c.queue_name) filter (where c.node_type = 'branch'),
                            min(t.queue_name))
              from londiste.table_info t
              join pgq_node.node_info n on n.queue_name = t.queue_name
              left join pgq_node.node_info c on c.queue_name = n.combined_queue
             where coalesce(t.dest_table, t.table_name) in (f.to_table, f.from_table)
               and t.local)
     order by f.from_table, f.to_table, f.fkey_name;
$$;
