-- londiste.local_change_handler(i_queue_name text, i_table_name text, i_trg_args text[],
--     i_table_attrs text, out ret_code int4, out ret_note text)
--
-- Gives a local table new handler attributes (londiste.local_set_table_attrs) and re-creates its
-- replication triggers with i_trg_args (londiste.create_trigger on its dest_table, or the table
-- itself). i_table_name must be the stored, qualified name.
-- Returns 200 'Handler changed for table: <desc>', 200 'Table handler updated with no
-- triggers: <desc>' (no_triggers); 400 'No such set: <queue>'; 404 'no such local table:
-- <table>' (from local_set_table_attrs); create_trigger's 4xx as 'Trigger creation failed for
-- table <desc>: <note>'. <desc> is the name, with '(<dest>)' when the destination differs.
-- The attributes stay changed when the trigger creation then fails (the caller's transaction
-- decides), as in 3.8.
-- Tables: londiste.table_info (update), pgq_node.node_info (read); the table's triggers.
create or replace function londiste.local_change_handler(
    in i_queue_name text,
    in i_table_name text,
    in i_trg_args text[],
    in i_table_attrs text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
as $$
declare
    node    record;
    dest    text;
    descr   text;
begin
    select * into node from pgq_node.get_node_info(i_queue_name);
    if not found or node.ret_code >= 400 then
        ret_code := 400;
        ret_note := 'No such set: ' || i_queue_name;
        return;
    end if;
    select f.ret_code, f.ret_note into ret_code, ret_note
      from londiste.local_set_table_attrs(i_queue_name, i_table_name, i_table_attrs) f;
    if ret_code <> 200 then
        return;
    end if;
    select coalesce(t.dest_table, i_table_name) into dest
      from londiste.table_info t
     where t.queue_name = i_queue_name and t.table_name = i_table_name and t.local;
    descr := case when dest = i_table_name then i_table_name else i_table_name || '(' || dest || ')' end;

    select f.ret_code, f.ret_note into ret_code, ret_note
      from londiste.create_trigger(i_queue_name, i_table_name, i_trg_args, dest, node.node_type) f;
    if ret_code > 299 then
        ret_note := 'Trigger creation failed for table ' || descr || ': ' || ret_note;
        return;
    elsif ret_code = 201 then
        ret_code := 200;
        ret_note := 'Table handler updated with no triggers: ' || descr;
        return;
    end if;
    ret_code := 200;
    ret_note := 'Handler changed for table: ' || descr;
end;
$$;
