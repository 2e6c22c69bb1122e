-- pgq_coop.unregister_subconsumer(i_queue_name text, i_consumer_name text,
--     i_subconsumer_name text, i_batch_handling integer) returns integer
--
-- Removes a subconsumer from its cooperative consumer. When it holds a batch,
-- i_batch_handling decides: 1 drops the batch (its events are not processed by this group;
-- the main consumer has moved past them already), anything else refuses.
-- The main consumer and the other subconsumers stay.
-- Returns 1 when the subconsumer was removed, 0 when it was not registered.
-- Errors: 'subconsumer has active batch' (PC004) when it holds a batch and
-- i_batch_handling <> 1 (nothing changes).
-- Tables: pgq.subscription (delete).
create or replace function pgq_coop.unregister_subconsumer(
    i_queue_name text,
    i_consumer_name text,
    i_subconsumer_name text,
    i_batch_handling integer)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq_coop, pgq
as $$
declare
    qid     integer;
    cid     integer;
    batch   bigint;
begin
    select s.sub_queue, s.sub_consumer, s.sub_batch into qid, cid, batch
      from pgq.subscription s
      join pgq.queue q on q.queue_id = s.sub_queue
      join pgq.consumer c on c.co_id = s.sub_consumer
     where q.queue_name = i_queue_name
       and c.co_name = i_consumer_name || '.' || i_subconsumer_name
       for update of s;
    if not found then
        return 0;
    end if;
    if batch is not null and i_batch_handling is distinct from 1 then
        raise exception 'subconsumer has active batch' using errcode = 'PC004';
    end if;
    delete from pgq.subscription s where s.sub_queue = qid and s.sub_consumer = cid;
    return 1;
end;
$$;
