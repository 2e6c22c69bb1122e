-- londiste.global_add_table(i_queue_name text, i_table_name text,
--     out ret_code int4, out ret_note text)
--
-- Registers a table in the queue's set (londiste.table_info, not local): on the root the setup
-- does it, elsewhere the replay does when a new table is announced. On a merge-leaf's node the
-- table goes into its combined queue too.
-- Returns 200 'Table added: <i_table_name>', or 200 'Table already added: <fqname>' when it is
-- registered (also when a parallel session registers it first); 400 'No such queue: <queue>'
-- when this database is no node of the queue. Strict.
-- Tables: pgq_node.node_info (row lock), londiste.table_info (insert).
create or replace function londiste.global_add_table(
    in i_queue_name text,
    in i_table_name text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
strict
as $$
declare
    fq      text := londiste.make_fqname(i_table_name);
    cqueue  text;
begin
    select n.combined_queue into cqueue
      from pgq_node.node_info n
     where n.queue_name = i_queue_name
       for update;
    if not found then
        ret_code := 400;
        ret_note := 'No such queue: ' || i_queue_name;
        return;
    end if;
    if exists (select 1 from londiste.table_info t
                where t.queue_name = i_queue_name and t.table_name = fq) then
        ret_code := 200;
        ret_note := 'Table already added: ' || fq;
        return;
    end if;
    begin
        insert into londiste.table_info (queue_name, table_name) values (i_queue_name, fq);
    exception when unique_violation then
        -- the setup and the replay may register the same table at once
        ret_code := 200;
        ret_note := 'Table already added: ' || i_table_name;
        return;
    end;
    if cqueue is not null then
        perform londiste.global_add_table(cqueue, i_table_name);
    end if;
    ret_code := 200;
    ret_note := 'Table added: ' || i_table_name;
end;
$$;
