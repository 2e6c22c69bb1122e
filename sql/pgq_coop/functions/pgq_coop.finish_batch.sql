-- pgq_coop.finish_batch(i_batch_id bigint) returns integer
--
-- Closes a subconsumer's batch. The main consumer moved past it when the batch was handed
-- out, so only the subconsumer's row is cleared (batch and ticks).
-- Returns 1 when the batch was open; 0 with a warning 'coop_finish_batch: batch <id> not
-- found' otherwise.
-- Tables: pgq.subscription (update).
create or replace function pgq_coop.finish_batch(i_batch_id bigint)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq_coop, pgq
as $$
begin
    update pgq.subscription s
       set sub_active = now(),
           sub_last_tick = null,
           sub_next_tick = null,
           sub_batch = null
     where s.sub_batch = i_batch_id;
    if not found then
        raise warning 'coop_finish_batch: batch % not found', i_batch_id;
        return 0;
    end if;
    return 1;
end;
$$;
