-- pgq_ext.set_last_tick(a_consumer text, a_subconsumer text, a_tick_id bigint) returns integer
-- pgq_ext.set_last_tick(a_consumer text, a_tick_id bigint) returns integer  (subconsumer '')
--
-- Serial consumers: records a_tick_id as the last applied tick, in the transaction that
-- applies the batch. A NULL a_tick_id forgets the consumer (reset / unregister).
-- Returns 1.
-- Tables: pgq_ext.completed_tick (insert / update / delete).
create or replace function pgq_ext.set_last_tick(a_consumer text, a_subconsumer text, a_tick_id bigint)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq_ext
as $$
begin
    if a_tick_id is null then
        delete from pgq_ext.completed_tick ct
         where ct.consumer_id = a_consumer
           and ct.subconsumer_id = a_subconsumer;
    else
        insert into pgq_ext.completed_tick as ct (consumer_id, subconsumer_id, last_tick_id)
        values (a_consumer, a_subconsumer, a_tick_id)
        on conflict (consumer_id, subconsumer_id)
        do update set last_tick_id = excluded.last_tick_id;
    end if;
    return 1;
end;
$$;

create or replace function pgq_ext.set_last_tick(a_consumer text, a_tick_id bigint)
returns integer
language sql
as $$
    select pgq_ext.set_last_tick(a_consumer, '', a_tick_id);
$$;
