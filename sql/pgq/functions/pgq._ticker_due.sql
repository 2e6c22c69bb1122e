-- pgq._ticker_due(i_queue_names text[], i_latency boolean)
--     returns setof (queue_name, due, queue_id, data_pfx, last_tick_id, last_snapshot, last_event_seq)
--
-- Internal: the queues of one ticker pass that may need a tick, in queue_name order, found with
-- one set-based read (each queue's event sequence through pg_sequence_last_value, its last tick,
-- and only for idle queues the tick before) instead of one PL/pgSQL call per queue. Writes
-- nothing and assigns no transaction id, so a pass over queues that need nothing stays read-only.
--   due = 'due': pgq.ticker(queue) would tick: ticker_max_count events or ticker_max_lag
--         reached, or the idle back-off over — the same tests it makes, on the same values;
--   due = 'pgq': pgq.ticker(queue) must decide: no tick yet, the last tick's xmin or xmax ahead
--         of this transaction, or a negative count of new events (it ticks, warns or raises);
--   due = 'latency' (only when i_latency): not due by those rules, but the queue does not batch
--         (queue_ticker_batching is false: ticker_max_lag / ticker_max_count never set), a
--         consumer has finished every tick so far and has no batch open, and events may have
--         arrived since the last tick (the event sequence moved — or took its first value —, or
--         the last tick saw transactions in progress). pgq.ticker_poll checks that some are
--         committed.
-- i_queue_names NULL: every queue that is neither paused nor externally ticked.
-- pgq.ticker() runs a copy of this query's 'due' / 'pgq' part inline (its call cost more than the
-- C extension's whole pass over one queue): change both together (a test checks they agree).
-- Tables: reads pgq.queue, pgq.tick, pgq.subscription, pg_sequence and the event sequences
-- (a sequence never called is at its start value: pgq never uses setval(…, false)).
-- Errors: none of its own (a sequence that is gone raises as in pgq.seq_getval).
-- PL/pgSQL, not SQL, for its plan: a SQL function's query is planned again on every call (~1 ms,
-- twice its execution over 10 queues), which the hot-queue poll every few milliseconds and a
-- pass over few queues paid each time; here one generic plan is cached per session, serving the
-- full pass and the poll of named queues alike (it runs only the arm of the queue scan it needs).
create or replace function pgq._ticker_due(i_queue_names text[], i_latency boolean,
    out queue_name text, out due text, out queue_id integer, out data_pfx text,
    out last_tick_id bigint, out last_snapshot txid_snapshot, out last_event_seq bigint)
returns setof record
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
begin
    return query
        -- txid_current() of the caller, or a lower bound of the id it would get: no id is assigned here.
        with cur as (
            select coalesce(txid_current_if_assigned(), txid_snapshot_xmax(txid_current_snapshot())) as bound
        ), st as (
            select q.queue_name, q.queue_id, q.queue_ticker_max_count, q.queue_ticker_max_lag,
                   q.queue_ticker_idle_period, q.queue_ticker_batching, q.queue_data_pfx,
                   l.tick_id, l.tick_time, l.tick_snapshot, l.tick_event_seq,
                   -- pgq.seq_getval without dynamic SQL. NULL: never called, so every tick recorded
                   -- its start value (pgq never uses setval(…, false)) and nothing is new.
                   coalesce(v.last_value, l.tick_event_seq) - l.tick_event_seq as new_events,
                   v.seq, v.last_value,
                   now() - l.tick_time as lag
              -- Every queue (a sequential scan), or the named ones (the name index): two arms of
              -- which the generic plan runs one, so a poll of a few hot queues among thousands
              -- does not read them all.
              from (select * from pgq.queue where i_queue_names is null
                    union all
                    select * from pgq.queue where queue_name = any (i_queue_names)) q
              left join lateral (
                    select t.tick_id, t.tick_time, t.tick_event_seq, t.tick_snapshot
                      from pgq.tick t
                     where t.tick_queue = q.queue_id
                     order by t.tick_queue desc, t.tick_id desc
                     limit 1) l on true
              cross join lateral (
                    select q.queue_event_seq::regclass::oid as seq,
                           pg_catalog.pg_sequence_last_value(q.queue_event_seq::regclass) as last_value) v
             where not q.queue_external_ticker and not q.queue_ticker_paused
        ), d as (
            select st.*,
                   case
                     when st.tick_id is null then true
                     when txid_snapshot_xmin(st.tick_snapshot) > cur.bound
                       or txid_snapshot_xmax(st.tick_snapshot) > cur.bound then true
                     when st.new_events < 0 then true
                     when st.new_events > 0 then st.new_events >= st.queue_ticker_max_count
                                              or st.lag >= st.queue_ticker_max_lag
                     when st.lag < st.queue_ticker_max_lag / 2 then
                          not exists (select 1 from pgq.tick p
                                       where p.tick_queue = st.queue_id and p.tick_id < st.tick_id)
                     else coalesce(not (st.lag < (select st.tick_time - p.tick_time from pgq.tick p
                                                   where p.tick_queue = st.queue_id and p.tick_id < st.tick_id
                                                   order by p.tick_queue desc, p.tick_id desc
                                                   limit 1) * 2
                                        and st.lag < st.queue_ticker_idle_period),
                                   true)
                   end as pgq_due,
                   -- Cases where pgq.ticker(queue) itself must decide (it raises or warns).
                   st.tick_id is null
                     or txid_snapshot_xmin(st.tick_snapshot) > cur.bound
                     or txid_snapshot_xmax(st.tick_snapshot) > cur.bound
                     or st.new_events < 0 as unusual
              from st cross join cur
        )
        select d.queue_name,
               case when d.pgq_due and d.unusual then 'pgq' when d.pgq_due then 'due' else 'latency' end,
               d.queue_id, d.queue_data_pfx, d.tick_id, d.tick_snapshot, d.tick_event_seq
          from d
         where d.pgq_due
            or (i_latency
                and not d.queue_ticker_batching
                and case when exists (select 1 from pgq.subscription s
                                       where s.sub_queue = d.queue_id
                                         and s.sub_last_tick = d.tick_id
                                         and s.sub_batch is null)
                         then d.new_events > 0
                              or exists (select 1 from txid_snapshot_xip(d.tick_snapshot))
                              -- The first event leaves last_value where it was (now called).
                              or (d.last_value = d.tick_event_seq
                                  and d.tick_event_seq = (select s.seqstart from pg_catalog.pg_sequence s
                                                           where s.seqrelid = d.seq))
                         else false end)
         order by d.queue_name;
end;
$$;
