-- londiste.local_remove_table(i_queue_name text, i_table_name text,
--     out ret_code int4, out ret_note text)
--
-- Stops replicating a table on this node. When it is local: its replication triggers are
-- dropped, indexes set aside for a copy (dropped_ddl) are put back after emptying the
-- half-copied table, the row is reset (not local, no state, snapshot, attributes or
-- dest_table) and the serial sequences of its integer columns are unregistered
-- (londiste.local_remove_seq). On the root the table then also leaves the set
-- (londiste.global_remove_table) and a 'londiste.remove-table' event tells the nodes.
-- Returns 200 'Table removed: <fqname>'; 400 'Table not found: <fqname>' when it is not in the
-- set, 400 'Table not registered locally: <fqname>' on a non-root node when it is not local.
-- Strict.
-- Errors: an unknown queue raises PN001 (pgq_node.is_root_node).
-- Tables: londiste.table_info (row lock, update, delete on root), londiste.seq_info (update);
-- the table (truncate, its DDL) when a copy was cut short; pgq events on the root.
create or replace function londiste.local_remove_table(
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
    qtbl    text := londiste.quote_fqname(fq);
    rel     oid := londiste.find_table_oid(i_table_name);
    tbl     record;
    seq     text;
begin
    select t.local, t.dropped_ddl into tbl
      from londiste.table_info t
     where t.queue_name = i_queue_name and t.table_name = fq
       for update;
    if not found then
        ret_code := 400;
        ret_note := 'Table not found: ' || fq;
        return;
    end if;

    if tbl.local then
        perform londiste.drop_table_triggers(i_queue_name, fq);
        if tbl.dropped_ddl is not null then
            -- the copy never finished: empty rows make restoring the indexes cheap
            execute 'truncate only ' || qtbl;
            execute tbl.dropped_ddl;
        end if;
        update londiste.table_info t
           set local = false, custom_snapshot = null, table_attrs = null,
               dropped_ddl = null, merge_state = null, dest_table = null
         where t.queue_name = i_queue_name and t.table_name = fq;
        -- a serial column's sequence was registered with the table: it goes with it
        for seq in
            select n.nspname || '.' || s.relname
              from pg_catalog.pg_attribute a
              join pg_catalog.pg_class s
                on s.oid = pg_catalog.pg_get_serial_sequence(qtbl, a.attname)::regclass::oid
              join pg_catalog.pg_namespace n on n.oid = s.relnamespace
             where a.attrelid = rel
               and a.atthasdef
               and a.atttypid::regtype::text in ('integer', 'bigint')
        loop
            perform londiste.local_remove_seq(i_queue_name, seq);
        end loop;
    elsif not pgq_node.is_root_node(i_queue_name) then
        ret_code := 400;
        ret_note := 'Table not registered locally: ' || fq;
        return;
    end if;

    if pgq_node.is_root_node(i_queue_name) then
        perform londiste.global_remove_table(i_queue_name, fq);
        perform londiste.root_notify_change(i_queue_name, 'londiste.remove-table', fq);
    end if;
    ret_code := 200;
    ret_note := 'Table removed: ' || fq;
end;
$$;
