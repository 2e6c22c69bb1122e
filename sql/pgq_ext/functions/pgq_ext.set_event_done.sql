-- pgq_ext.set_event_done(a_consumer text, a_subconsumer text, a_batch_id bigint, a_event_id bigint) returns boolean
-- pgq_ext.set_event_done(a_consumer text, a_batch_id bigint, a_event_id bigint) returns boolean  (subconsumer '')
--
-- Partial batches: records one event of a batch as applied, for consumers that commit in the
-- target more often than once per batch. Only the current batch's events are kept: the first
-- event of a new batch means the previous batch was finished on the queue database, so the
-- previous batch's event rows are deleted and partial_batch moves to the new batch.
-- Returns false when the event was already recorded (nothing changes), true otherwise.
-- Tables: pgq_ext.partial_batch (insert / update), pgq_ext.completed_event (insert / delete).
create or replace function pgq_ext.set_event_done(
    a_consumer text, a_subconsumer text, a_batch_id bigint, a_event_id bigint)
returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pgq_ext
as $$
declare
    v_current bigint;
begin
    if pgq_ext.is_event_done(a_consumer, a_subconsumer, a_batch_id, a_event_id) then
        return false;
    end if;

    select pb.cur_batch_id into v_current
      from pgq_ext.partial_batch pb
     where pb.consumer_id = a_consumer
       and pb.subconsumer_id = a_subconsumer
       for update;
    if not found then
        insert into pgq_ext.partial_batch (consumer_id, subconsumer_id, cur_batch_id)
        values (a_consumer, a_subconsumer, a_batch_id);
    elsif v_current <> a_batch_id then
        delete from pgq_ext.completed_event ce
         where ce.consumer_id = a_consumer
           and ce.subconsumer_id = a_subconsumer
           and ce.batch_id = v_current;
        update pgq_ext.partial_batch pb
           set cur_batch_id = a_batch_id
         where pb.consumer_id = a_consumer
           and pb.subconsumer_id = a_subconsumer;
    end if;

    insert into pgq_ext.completed_event (consumer_id, subconsumer_id, batch_id, event_id)
    values (a_consumer, a_subconsumer, a_batch_id, a_event_id);
    return true;
end;
$$;

create or replace function pgq_ext.set_event_done(a_consumer text, a_batch_id bigint, a_event_id bigint)
returns boolean
language sql
as $$
    select pgq_ext.set_event_done(a_consumer, '', a_batch_id, a_event_id);
$$;
