-- pgq_ext.is_event_done(a_consumer text, a_subconsumer text, a_batch_id bigint, a_event_id bigint) returns boolean
-- pgq_ext.is_event_done(a_consumer text, a_batch_id bigint, a_event_id bigint) returns boolean  (subconsumer '')
--
-- Partial batches: whether event a_event_id of batch a_batch_id was already applied by this
-- (sub)consumer (recorded with set_event_done).
-- Tables: pgq_ext.completed_event (read).
create or replace function pgq_ext.is_event_done(
    a_consumer text, a_subconsumer text, a_batch_id bigint, a_event_id bigint)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, pgq_ext
as $$
    select exists (
        select 1
          from pgq_ext.completed_event ce
         where ce.consumer_id = a_consumer
           and ce.subconsumer_id = a_subconsumer
           and ce.batch_id = a_batch_id
           and ce.event_id = a_event_id);
$$;

create or replace function pgq_ext.is_event_done(a_consumer text, a_batch_id bigint, a_event_id bigint)
returns boolean
language sql
as $$
    select pgq_ext.is_event_done(a_consumer, '', a_batch_id, a_event_id);
$$;
