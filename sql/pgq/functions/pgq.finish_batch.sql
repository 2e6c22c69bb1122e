-- pgq.finish_batch(x_batch_id bigint) returns integer
--
-- Closes a batch: the subscription moves to the batch's closing tick, so the next batch
-- starts there. Commit it in the same transaction as the batch's effects (and its
-- event_retry calls) for exactly-once processing in the queue's database.
-- Returns 1, or 0 with a WARNING when no such open batch exists (finished already).
create or replace function pgq.finish_batch(x_batch_id bigint)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
begin
    update pgq.subscription
       set sub_active = now(), sub_last_tick = sub_next_tick, sub_next_tick = null, sub_batch = null
     where sub_batch = x_batch_id;
    if not found then
        raise warning 'finish_batch: batch % not found', x_batch_id;
        return 0;
    end if;
    return 1;
end;
$$;
