-- pgq_ext.set_batch_done(a_consumer text, a_subconsumer text, a_batch_id bigint) returns boolean
-- pgq_ext.set_batch_done(a_consumer text, a_batch_id bigint) returns boolean  (subconsumer '')
--
-- Records a_batch_id as the last applied batch of this (sub)consumer. Call it in the target
-- transaction that applies the batch, and call pgq.finish_batch on the queue database only
-- after that transaction commits.
-- Returns false when the batch was already recorded (nothing changes), true otherwise. A
-- batch id ≤ 0 is accepted and not stored (returns true), as in the original.
-- Tables: pgq_ext.completed_batch (insert / update).
create or replace function pgq_ext.set_batch_done(a_consumer text, a_subconsumer text, a_batch_id bigint)
returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pgq_ext
as $$
begin
    if pgq_ext.is_batch_done(a_consumer, a_subconsumer, a_batch_id) then
        return false;
    end if;
    if a_batch_id > 0 then
        insert into pgq_ext.completed_batch as cb (consumer_id, subconsumer_id, last_batch_id)
        values (a_consumer, a_subconsumer, a_batch_id)
        on conflict (consumer_id, subconsumer_id)
        do update set last_batch_id = excluded.last_batch_id;
    end if;
    return true;
end;
$$;

create or replace function pgq_ext.set_batch_done(a_consumer text, a_batch_id bigint)
returns boolean
language sql
as $$
    select pgq_ext.set_batch_done(a_consumer, '', a_batch_id);
$$;
