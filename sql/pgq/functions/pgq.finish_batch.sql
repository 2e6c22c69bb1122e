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
declare
    s record;
begin
    -- The state row is replaced, never updated (tables.sql: pgq.subscription). Two calls for
    -- one batch conflict on the delete: the second then finds no row, as with the original.
    delete from pgq.subscription_state
     where sub_batch = x_batch_id
    returning sub_id, sub_queue, sub_consumer, sub_next_tick into s;
    if found then
        insert into pgq.subscription_state (sub_id, sub_queue, sub_consumer, sub_last_tick)
        values (s.sub_id, s.sub_queue, s.sub_consumer, s.sub_next_tick);
    else
        raise warning 'finish_batch: batch % not found', x_batch_id;
        return 0;
    end if;
    return 1;
end;
$$;
