-- pgq_ext.get_last_tick(a_consumer text, a_subconsumer text) returns int8
-- pgq_ext.get_last_tick(a_consumer text) returns int8  (subconsumer '')
--
-- Serial consumers: the tick id of the last batch applied to this database (the batch's
-- closing tick), or NULL when none was recorded.
-- Tables: pgq_ext.completed_tick (read).
create or replace function pgq_ext.get_last_tick(a_consumer text, a_subconsumer text)
returns int8
language sql
stable
security definer
set search_path = pg_catalog, pgq_ext
as $$
    select ct.last_tick_id
      from pgq_ext.completed_tick ct
     where ct.consumer_id = a_consumer
       and ct.subconsumer_id = a_subconsumer;
$$;

create or replace function pgq_ext.get_last_tick(a_consumer text)
returns int8
language sql
as $$
    select pgq_ext.get_last_tick(a_consumer, '');
$$;
