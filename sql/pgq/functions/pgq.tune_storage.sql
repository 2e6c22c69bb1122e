-- pgq.tune_storage(i_queue_name text) returns integer
--
-- Storage settings for the queue's event tables: fillfactor 100 and autovacuum off, since
-- they are only appended to and then TRUNCATEd by rotation. Returns 1, or 0 for an unknown
-- queue.
create or replace function pgq.tune_storage(i_queue_name text)
returns integer
language plpgsql strict
as $$
declare
    q record;
begin
    select * into q from pgq.queue where queue_name = i_queue_name;
    if not found then
        return 0;
    end if;
    for i in 0 .. q.queue_ntables - 1 loop
        execute 'alter table ' || pgq.quote_fqname(q.queue_data_pfx || '_' || i::text)
            || ' set (fillfactor = 100, autovacuum_enabled = off, toast.autovacuum_enabled = off)';
    end loop;
    return 1;
end;
$$;
