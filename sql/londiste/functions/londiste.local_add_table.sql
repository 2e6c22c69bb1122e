-- londiste.local_add_table(i_queue_name text, i_table_name text [, i_trg_args text[]
--     [, i_table_attrs text [, i_dest_table text]]], out ret_code int4, out ret_note text)
--
-- Makes a table of the queue's set replicate on this node (table_info.local), creating its
-- replication triggers (londiste.create_trigger). On the root the table joins the set first
-- (londiste.global_add_table) and a 'londiste.add-table' event tells the nodes; elsewhere it
-- must be in the set already. i_dest_table: the local table that receives the rows when its name
-- differs (stored in dest_table); i_table_attrs: the urlencoded handler attributes.
-- i_trg_args: trigger arguments and flags (see londiste.create_trigger) plus these options:
--   expect_sync    no copy: the table is taken as equal already (state 'ok')
--   skip_truncate  adds 'skip_truncate=1' to the table attributes
--   virtual_table  no table needed here: no structure check, no triggers, state 'ok'
--   merge_all      on a leaf: take the table from every source queue of the combined queue
--   no_merge       on a leaf: take it from this queue only
-- The new state is 'ok' on the root, on a leaf of a combined branch and with expect_sync;
-- otherwise NULL (to be copied). On a leaf (without no_merge) the same table of the other
-- queues feeding the same combined queue is made local too, and when this queue feeds a
-- combined queue on a root or branch, the table is added there (a recursive call).
-- Returns 200 'Table added: <desc>', 200 'Table added with no triggers: <desc>', 200 'Table
-- already added: <desc>' (local with the same attributes); 400 'Primary key missing on table:
-- <desc>', 400 'No such set: <queue>'; 404 'Table does not exist: <desc>', 404 'Table not
-- available on queue: <desc>' (not the root and not in the set); 405 'Cannot use merge-all and
-- no-merge together', 405 'Found local table <desc> in queue <q>, use remove-table first to
-- remove all previous table subscriptions', 405 'Found multiple sources for table <desc>, use
-- merge-all or no-merge to continue'; 410 'Table <desc> already added, but with different args:
-- <attrs>'; create_trigger's 4xx as 'Trigger creation failed for table <desc>: <note>'; a
-- global_add_table code other than 200 as it came. <desc> is the qualified name, with
-- '(<dest>)' appended when the destination differs. 3.8 documents a 301 (a trigger that fires
-- before londiste's) but its check compares with create_trigger's always-NULL trigger_name, so
-- it never answers it; neither does this.
-- The shorter forms pass NULL for the missing arguments; the two-argument form is strict.
-- Errors: 'lost table: <table>' when the row vanishes under it.
-- Tables: londiste.table_info (insert via global_add_table, update), pgq_node.node_info (read);
-- the table's triggers; a pgq event on the root.
create or replace function londiste.local_add_table(
    in i_queue_name text,
    in i_table_name text,
    in i_trg_args text[],
    in i_table_attrs text,
    in i_dest_table text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
as $$
declare
    fq          text := londiste.make_fqname(i_table_name);
    dest        text := londiste.make_fqname(coalesce(i_dest_table, i_table_name));
    descr       text;
    attrs       text := i_table_attrs;
    expect_sync boolean := false;
    merge_all   boolean := false;
    no_merge    boolean := false;
    virtual     boolean := false;
    node        record;
    tbl         record;
    new_state   text;
    other       record;
    cqueue      text;
    ctable      text;
    arg         text;
begin
    foreach arg in array coalesce(i_trg_args, '{}') loop
        if arg = 'expect_sync' then
            expect_sync := true;
        elsif arg = 'skip_truncate' then
            attrs := coalesce(attrs || '&skip_truncate=1', 'skip_truncate=1');
        elsif arg = 'merge_all' then
            merge_all := true;
        elsif arg = 'no_merge' then
            no_merge := true;
        elsif arg = 'virtual_table' then
            virtual := true;
            expect_sync := true;
        end if;
    end loop;
    if merge_all and no_merge then
        ret_code := 405;
        ret_note := 'Cannot use merge-all and no-merge together';
        return;
    end if;
    descr := case when dest = fq then fq else fq || '(' || dest || ')' end;

    if not virtual then
        if londiste.find_table_oid(dest) is null then
            ret_code := 404;
            ret_note := 'Table does not exist: ' || descr;
            return;
        end if;
        -- a table merged from several queues may have lost its key to another queue's copy
        -- (dropped_ddl): that one puts it back
        if position('k' in londiste.find_column_types(dest)) < 1
           and not exists (
                select 1
                  from pgq_node.node_info n_this
                  join pgq_node.node_info n_other
                    on n_other.combined_queue = n_this.combined_queue
                   and n_other.queue_name <> n_this.queue_name
                  join londiste.table_info t on t.queue_name = n_other.queue_name
                 where n_this.queue_name = i_queue_name
                   and coalesce(t.dest_table, t.table_name) = dest
                   and t.dropped_ddl is not null)
        then
            ret_code := 400;
            ret_note := 'Primary key missing on table: ' || descr;
            return;
        end if;
    end if;

    select * into node from pgq_node.get_node_info(i_queue_name);
    if not found or node.ret_code >= 400 then
        ret_code := 400;
        ret_note := 'No such set: ' || i_queue_name;
        return;
    end if;

    select t.merge_state, t.local, t.table_attrs into tbl
      from londiste.table_info t
     where t.queue_name = i_queue_name and t.table_name = fq;
    if not found then
        if node.node_type <> 'root' then
            ret_code := 404;
            ret_note := 'Table not available on queue: ' || descr;
            return;
        end if;
        select f.ret_code, f.ret_note into ret_code, ret_note
          from londiste.global_add_table(i_queue_name, i_table_name) f;
        if ret_code <> 200 then
            return;
        end if;
        select t.merge_state, t.local, t.table_attrs into tbl
          from londiste.table_info t
         where t.queue_name = i_queue_name and t.table_name = fq;
    end if;
    if tbl.local then
        if tbl.table_attrs is distinct from attrs then
            ret_code := 410;
            ret_note := 'Table ' || descr || ' already added, but with different args: '
                     || coalesce(tbl.table_attrs, '');
        else
            ret_code := 200;
            ret_note := 'Table already added: ' || descr;
        end if;
        return;
    end if;

    if node.node_type = 'root' then
        new_state := 'ok';
        perform londiste.root_notify_change(i_queue_name, 'londiste.add-table', fq);
    elsif (node.node_type = 'leaf' and node.combined_type = 'branch') or expect_sync then
        -- a merge-leaf's combined branch has the rows already; expect_sync: the user says so
        new_state := 'ok';
    end if;
    update londiste.table_info t
       set local = true,
           merge_state = new_state,
           table_attrs = coalesce(attrs, t.table_attrs),
           dest_table = nullif(dest, fq)
     where t.queue_name = i_queue_name and t.table_name = fq;
    if not found then
        raise exception 'lost table: %', fq;
    end if;

    if node.node_type = 'leaf' and not no_merge then
        -- the same destination table of the other queues feeding the same combined queue
        for other in
            select t2.queue_name, t2.table_name, t2.local
              from londiste.table_info t
              join pgq_node.node_info n on n.queue_name = t.queue_name
              left join pgq_node.node_info n2
                on n2.combined_queue = n.combined_queue
                or (n2.combined_queue is null and n.combined_queue is null)
              left join londiste.table_info t2
                on t2.queue_name = n2.queue_name
               and coalesce(t2.dest_table, t2.table_name) = coalesce(t.dest_table, t.table_name)
             where t.queue_name = i_queue_name
               and t.table_name = fq
               and t2.queue_name <> i_queue_name
        loop
            if other.local and coalesce(new_state, 'x') <> 'ok' then
                ret_code := 405;
                ret_note := 'Found local table ' || descr || ' in queue ' || other.queue_name
                         || ', use remove-table first to remove all previous table subscriptions';
                return;
            end if;
            if not merge_all and coalesce(new_state, 'x') <> 'ok' then
                ret_code := 405;
                ret_note := 'Found multiple sources for table ' || descr
                         || ', use merge-all or no-merge to continue';
                return;
            end if;
            update londiste.table_info t
               set local = true,
                   merge_state = new_state,
                   table_attrs = coalesce(attrs, t.table_attrs)
             where t.queue_name = other.queue_name and t.table_name = other.table_name;
            if not found then
                raise exception 'lost table: % on queue %', other.table_name, other.queue_name;
            end if;
        end loop;

        -- this leaf feeds a combined queue on a root or branch: the table goes there too
        select n2.queue_name, t.table_name into cqueue, ctable
          from pgq_node.node_info n1
          join pgq_node.node_info n2 on n2.queue_name = n1.combined_queue
          left join londiste.table_info t
            on t.queue_name = n2.queue_name and t.table_name = fq and t.local
         where n1.queue_name = i_queue_name
           and n2.node_type in ('root', 'branch');
        if found and ctable is null then
            select f.ret_code, f.ret_note into ret_code, ret_note
              from londiste.local_add_table(cqueue, fq, i_trg_args, attrs, dest) f;
            if ret_code >= 300 then
                return;
            end if;
        end if;
    end if;

    select f.ret_code, f.ret_note into ret_code, ret_note
      from londiste.create_trigger(i_queue_name, fq, i_trg_args, dest, node.node_type) f;
    if ret_code > 299 then
        ret_note := 'Trigger creation failed for table ' || descr || ': ' || ret_note;
        return;
    elsif ret_code = 201 then
        ret_code := 200;
        ret_note := 'Table added with no triggers: ' || descr;
        return;
    end if;
    ret_code := 200;
    ret_note := 'Table added: ' || descr;
end;
$$;

create or replace function londiste.local_add_table(
    in i_queue_name text,
    in i_table_name text,
    in i_trg_args text[],
    in i_table_attrs text,
    out ret_code int4,
    out ret_note text)
returns record
language sql
as $$
    select f.ret_code, f.ret_note
      from londiste.local_add_table(i_queue_name, i_table_name, i_trg_args, i_table_attrs, null) f;
$$;

create or replace function londiste.local_add_table(
    in i_queue_name text,
    in i_table_name text,
    in i_trg_args text[],
    out ret_code int4,
    out ret_note text)
returns record
language sql
as $$
    select f.ret_code, f.ret_note
      from londiste.local_add_table(i_queue_name, i_table_name, i_trg_args, null) f;
$$;

create or replace function londiste.local_add_table(
    in i_queue_name text,
    in i_table_name text,
    out ret_code int4,
    out ret_note text)
returns record
language sql
strict
as $$
    select f.ret_code, f.ret_note
      from londiste.local_add_table(i_queue_name, i_table_name, null) f;
$$;
