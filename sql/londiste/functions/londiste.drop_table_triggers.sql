-- londiste.drop_table_triggers(i_queue_name text, i_table_name text) returns void
--
-- Drops the replication triggers of queue i_queue_name from the table registered as
-- i_table_name (its dest_table when set): every trigger whose function is a pgq event trigger
-- (londiste.is_replica_func) and whose first argument is the queue name. Other triggers, and
-- other queues' triggers on the same table, stay. Nothing happens for an unregistered table or
-- one without triggers. Strict.
-- Tables: londiste.table_info (read); pg_catalog.pg_trigger (read), the table's triggers (drop).
create or replace function londiste.drop_table_triggers(in i_queue_name text, in i_table_name text)
returns void
language plpgsql
strict
as $$
declare
    target  text;
    rel     oid;
    trg     text;
    -- tgargs holds the arguments as NUL-terminated bytes: the queue name comes first
    q_bytes bytea := convert_to(i_queue_name, pg_catalog.current_setting('server_encoding'));
begin
    select coalesce(t.dest_table, t.table_name) into target
      from londiste.table_info t
     where t.queue_name = i_queue_name and t.table_name = i_table_name;
    if not found then
        return;
    end if;
    rel := londiste.find_table_oid(target);
    if rel is null then
        return;
    end if;
    for trg in
        select g.tgname
          from pg_catalog.pg_trigger g
         where g.tgrelid = rel
           and londiste.is_replica_func(g.tgfoid)
           and g.tgnargs > 0
           and substr(g.tgargs, 1, position('\x00'::bytea in g.tgargs) - 1) = q_bytes
    loop
        execute pg_catalog.format('drop trigger %I on %s', trg, londiste.quote_fqname(target));
    end loop;
end;
$$;
