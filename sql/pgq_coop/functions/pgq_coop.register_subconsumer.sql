-- pgq_coop.register_subconsumer(i_queue_name text, i_consumer_name text,
--     i_subconsumer_name text) returns integer
--
-- Adds a subconsumer to a cooperative consumer, registering the main consumer first when
-- needed (at the queue's last tick). The subconsumer is the pgq consumer
-- '<consumer>.<subconsumer>'; its subscription takes the main consumer's sub_id and no tick
-- position of its own.
-- Returns 1 for a new subconsumer, 0 when it was registered already.
-- Errors: unknown queue, queue without ticks, NULL names (from pgq.register_consumer);
-- 'main consumer not found' (PC001) if the main subscription vanished meanwhile.
-- Tables: pgq.consumer, pgq.subscription (insert/update).
create or replace function pgq_coop.register_subconsumer(
    i_queue_name text,
    i_consumer_name text,
    i_subconsumer_name text)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq_coop, pgq
as $$
declare
    subname text := i_consumer_name || '.' || i_subconsumer_name;
    added   integer;
    main    record;
begin
    perform pgq.register_consumer(i_queue_name, i_consumer_name);
    added := pgq.register_consumer(i_queue_name, subname);
    if added = 1 then
        select s.sub_queue, s.sub_id into main
          from pgq.subscription s
          join pgq.queue q on q.queue_id = s.sub_queue
          join pgq.consumer c on c.co_id = s.sub_consumer
         where q.queue_name = i_queue_name
           and c.co_name = i_consumer_name;
        if not found then
            raise exception 'main consumer not found' using errcode = 'PC001';
        end if;
        -- join the group: same sub_id, position comes from the main consumer's row
        update pgq.subscription s
           set sub_id = main.sub_id,
               sub_last_tick = null,
               sub_next_tick = null
          from pgq.consumer c
         where s.sub_queue = main.sub_queue
           and s.sub_consumer = c.co_id
           and c.co_name = subname;
    end if;
    return added;
end;
$$;
