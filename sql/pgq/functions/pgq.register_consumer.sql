-- pgq.register_consumer(x_queue_name text, x_consumer_id text) returns integer
--
-- Subscribes a consumer to a queue from the queue's latest tick on: its first batch holds the
-- events committed after that tick. Returns 1 when newly registered, 0 when it already was.
-- Errors: unknown queue ('Event queue not created yet'); a queue with no tick yet.
create or replace function pgq.register_consumer(x_queue_name text, x_consumer_id text)
returns integer
language sql
security definer
set search_path = pg_catalog, pgq
as $$
    select pgq.register_consumer_at($1, $2, null);
$$;

-- pgq.register_consumer_at(x_queue_name text, x_consumer_name text, x_tick_pos bigint) returns integer
--
-- Subscribes a consumer at a given tick (NULL: the latest). For an existing subscription with
-- a tick given, moves it there and drops its open batch (repositioning). Returns 1 when newly
-- registered, 0 when the subscription existed.
-- Errors: NULL queue or consumer name; unknown queue; tick not found in the queue
-- ('cannot reposition, tick not found: <id>'); no ticks yet.
create or replace function pgq.register_consumer_at(x_queue_name text, x_consumer_name text, x_tick_pos bigint)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    qid       integer;
    cid       integer;
    start_tick bigint;
    sid       integer;
begin
    if x_queue_name is null or x_consumer_name is null then
        raise exception 'Invalid NULL value' using errcode = 'PQ006';
    end if;
    select queue_id into qid from pgq.queue where queue_name = x_queue_name;
    if not found then
        raise exception 'Event queue not created yet' using errcode = 'PQ001';
    end if;
    if x_tick_pos is not null then
        perform 1 from pgq.tick where tick_queue = qid and tick_id = x_tick_pos;
        if not found then
            raise exception 'cannot reposition, tick not found: %', x_tick_pos using errcode = 'PQ003';
        end if;
    end if;

    -- Concurrent registrations of the same new name must not both insert it.
    insert into pgq.consumer (co_name) values (x_consumer_name) on conflict (co_name) do nothing;
    select co_id into cid from pgq.consumer where co_name = x_consumer_name for update;

    select sub_id into sid from pgq.subscription_key where sub_queue = qid and sub_consumer = cid for update;
    if found then
        if x_tick_pos is not null then
            -- Replaces the state row (tables.sql: pgq.subscription); the key row's lock above
            -- keeps a concurrent repositioning out.
            delete from pgq.subscription_state where sub_queue = qid and sub_consumer = cid;
            insert into pgq.subscription_state (sub_id, sub_queue, sub_consumer, sub_last_tick)
            values (sid, qid, cid, x_tick_pos);
        end if;
        return 0;
    end if;

    if x_tick_pos is null then
        select tick_id into start_tick from pgq.tick
         where tick_queue = qid order by tick_queue desc, tick_id desc limit 1;
        if not found then
            raise exception 'No ticks for this queue.  Please run ticker on database.' using errcode = 'PQ008';
        end if;
    else
        start_tick := x_tick_pos;
    end if;
    insert into pgq.subscription_key (sub_queue, sub_consumer) values (qid, cid) returning sub_id into sid;
    insert into pgq.subscription_state (sub_id, sub_queue, sub_consumer, sub_last_tick)
    values (sid, qid, cid, start_tick);
    return 1;
end;
$$;
