-- pgq.drop_queue(x_queue_name text, x_force bool) returns integer
-- pgq.drop_queue(x_queue_name text) returns integer            (x_force = false)
--
-- Drops a queue with its event tables, ticks and sequences. With x_force, its consumers are
-- unregistered first; without, a queue that still has consumers is refused.
-- Returns 1. Errors: unknown queue ('No such event queue'); consumers attached
-- ('cannot drop queue, consumers still attached').
-- Locks: detaching from pgq.event_all takes ACCESS EXCLUSIVE on it for the rest of the
-- transaction, so producers of all queues wait until this commits.
create or replace function pgq.drop_queue(x_queue_name text, x_force bool)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    q record;
begin
    select * into q from pgq.queue where queue_name = x_queue_name for update;
    if not found then
        raise exception 'No such event queue' using errcode = 'PQ001';
    end if;
    if x_force then
        perform pgq.unregister_consumer(x_queue_name, c.co_name)
           from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
          where s.sub_queue = q.queue_id;
    elsif exists (select 1 from pgq.subscription where sub_queue = q.queue_id) then
        raise exception 'cannot drop queue, consumers still attached' using errcode = 'PQ007';
    end if;
    delete from pgq.retry_queue where ev_queue = q.queue_id;
    execute 'drop table ' || pgq.quote_fqname(q.queue_data_pfx) || ' cascade';
    delete from pgq.tick where tick_queue = q.queue_id;
    execute 'drop sequence ' || pgq.quote_fqname(q.queue_tick_seq);
    execute 'drop sequence ' || pgq.quote_fqname(q.queue_event_seq);
    delete from pgq.queue where queue_id = q.queue_id;
    -- Its per-queue insert function, unless a trigger's encoder still calls it.
    perform pgq._queue_insert_sweep();
    return 1;
end;
$$;

create or replace function pgq.drop_queue(x_queue_name text)
returns integer
language sql strict
as $$
    select pgq.drop_queue($1, false);
$$;
