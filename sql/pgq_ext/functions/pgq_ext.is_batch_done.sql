-- pgq_ext.is_batch_done(a_consumer text, a_subconsumer text, a_batch_id bigint) returns boolean
-- pgq_ext.is_batch_done(a_consumer text, a_batch_id bigint) returns boolean  (subconsumer '')
--
-- Whether a_batch_id is the last batch recorded as applied for this (sub)consumer. Only the
-- latest batch is remembered: batches come in order, so an older id is never asked about.
-- Returns false for a consumer never seen.
-- Tables: pgq_ext.completed_batch (read).
create or replace function pgq_ext.is_batch_done(a_consumer text, a_subconsumer text, a_batch_id bigint)
returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pgq_ext
as $$
declare
    v_last bigint;
begin
    select cb.last_batch_id into v_last
      from pgq_ext.completed_batch cb
     where cb.consumer_id = a_consumer
       and cb.subconsumer_id = a_subconsumer;
    if not found then
        return false;
    end if;
    return v_last = a_batch_id;
end;
$$;

create or replace function pgq_ext.is_batch_done(a_consumer text, a_batch_id bigint)
returns boolean
language sql
as $$
    select pgq_ext.is_batch_done(a_consumer, '', a_batch_id);
$$;
