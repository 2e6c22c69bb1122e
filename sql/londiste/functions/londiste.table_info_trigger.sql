-- londiste.table_info_trigger() returns trigger, and the trigger table_info_trigger_sync
--
-- Before a row of londiste.table_info is deleted (remove, or the node dropped: the foreign key
-- cascades), the queue's replication triggers are dropped from that table
-- (londiste.drop_table_triggers), so no table keeps sending events nobody replays.
-- Tables: londiste.table_info (trigger on delete); the replicated table's triggers (drop).
create or replace function londiste.table_info_trigger()
returns trigger
language plpgsql
as $$
begin
    if tg_op = 'DELETE' then
        perform londiste.drop_table_triggers(old.queue_name, old.table_name);
    end if;
    return old;
end;
$$;

-- re-runnable: the trigger is replaced, never doubled
drop trigger if exists table_info_trigger_sync on londiste.table_info;
create trigger table_info_trigger_sync before delete on londiste.table_info
    for each row execute procedure londiste.table_info_trigger();
