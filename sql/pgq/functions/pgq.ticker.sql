-- pgq.ticker(i_queue_name text, i_tick_id bigint, i_orig_timestamp timestamptz, i_event_seq bigint) returns bigint
--
-- External tick: records a tick with the given id, time and event sequence position (a cascade
-- copies its provider's ticks this way). Only for queues with queue_external_ticker set and
-- the ticker not paused. Moves the queue's tick and event sequences forward to match.
-- Returns i_tick_id. Errors: 'queue not found or ticker disabled: <name>'.
create or replace function pgq.ticker(i_queue_name text, i_tick_id bigint, i_orig_timestamp timestamptz, i_event_seq bigint)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    q record;
begin
    insert into pgq.tick (tick_queue, tick_id, tick_time, tick_event_seq)
    select queue_id, i_tick_id, i_orig_timestamp, i_event_seq
      from pgq.queue
     where queue_name = i_queue_name and queue_external_ticker and not queue_ticker_paused
    returning tick_queue into q;
    if not found then
        raise exception 'queue not found or ticker disabled: %', i_queue_name using errcode = 'PQ008';
    end if;
    perform pgq.seq_setval(queue_tick_seq, i_tick_id), pgq.seq_setval(queue_event_seq, i_event_seq)
       from pgq.queue where queue_name = i_queue_name;
    return i_tick_id;
end;
$$;

-- pgq.ticker(i_queue_name text) returns bigint
--
-- Records a tick (a snapshot of committed transactions) for one queue when one is due:
--   * events arrived since the last tick and either queue_ticker_max_count of them or
--     queue_ticker_max_lag has passed; or
--   * no events, and the idle back-off allows a tick: at most every queue_ticker_idle_period,
--     the gap between idle ticks doubling from queue_ticker_max_lag / 2 up to that.
-- Returns the new tick id, or NULL when no tick was due.
-- Errors: 'no such queue'; external tick source; ticker paused; a last tick whose xmin is
-- ahead of the current transaction ('Invalid PgQ state').
-- Locks: the queue's pgq.queue row (FOR NO KEY UPDATE) until commit; producers do not wait.
create or replace function pgq.ticker(i_queue_name text)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    q     record;
    last  record;
    gap   interval;
    new_id bigint;
begin
    -- The row lock serializes concurrent tickers of one queue: the second one waits, then sees
    -- the first one's tick and finds no tick due, so one moment never gets two ticks.
    select queue_id, queue_tick_seq, queue_event_seq, queue_external_ticker, queue_ticker_paused,
           queue_ticker_max_count, queue_ticker_max_lag, queue_ticker_idle_period
      into q
      from pgq.queue where queue_name = i_queue_name
       for no key update;
    if not found then
        raise exception 'no such queue' using errcode = 'PQ001';
    end if;
    if q.queue_external_ticker then
        raise exception 'This queue has external tick source.' using errcode = 'PQ008';
    end if;
    if q.queue_ticker_paused then
        raise exception 'Ticker has been paused for this queue' using errcode = 'PQ008';
    end if;

    -- A statement after the lock, so that it sees a tick another ticker committed while we
    -- waited. The event sequence is read in it too (as pgq.seq_getval, whose SELECT only runs for
    -- a sequence never called): one statement instead of two, on the hot path of every tick.
    select s.event_seq, t.tick_id, t.tick_time, t.tick_event_seq,
           now() - t.tick_time as lag,
           s.event_seq - t.tick_event_seq as new_events,
           txid_snapshot_xmin(t.tick_snapshot) as sxmin,
           txid_snapshot_xmax(t.tick_snapshot) as sxmax
      into last
      from (select coalesce(pg_sequence_last_value(q.queue_event_seq::regclass),
                            pgq.seq_getval(q.queue_event_seq)) as event_seq) s
      left join lateral (
            select x.tick_id, x.tick_time, x.tick_event_seq, x.tick_snapshot
              from pgq.tick x
             where x.tick_queue = q.queue_id
             order by x.tick_queue desc, x.tick_id desc
             limit 1) t on true;
    if last.tick_id is not null then
        if last.sxmin > txid_current() then
            raise exception 'Invalid PgQ state: old xmin=%, old xmax=%, cur txid=%',
                last.sxmin, last.sxmax, txid_current() using errcode = 'PQ009';
        end if;
        if last.new_events < 0 then
            raise warning 'Negative new_events?  old=% cur=%', last.tick_event_seq, last.event_seq;
        end if;
        if last.sxmax > txid_current() then
            raise warning 'Dubious PgQ state: old xmax=%, cur txid=%', last.sxmax, txid_current();
        end if;
        if last.new_events > 0 then
            if last.new_events < q.queue_ticker_max_count and last.lag < q.queue_ticker_max_lag then
                return null;
            end if;
        else
            -- Idle: tick again only after twice the previous idle gap (starting from max_lag/2),
            -- capped by idle_period, so an idle queue costs few tick rows.
            select last.tick_time - tick_time into gap
              from pgq.tick
             where tick_queue = q.queue_id and tick_id < last.tick_id
             order by tick_queue desc, tick_id desc
             limit 1;
            if found and (last.lag < q.queue_ticker_max_lag / 2
                          or (last.lag < gap * 2 and last.lag < q.queue_ticker_idle_period)) then
                return null;
            end if;
        end if;
    end if;

    insert into pgq.tick (tick_queue, tick_id, tick_event_seq)
    values (q.queue_id, nextval(q.queue_tick_seq::regclass), last.event_seq)
    returning tick_id into new_id;
    return new_id;
end;
$$;

-- pgq.ticker() returns bigint
--
-- Runs pgq.ticker(queue) for every queue that is neither externally ticked nor paused, in name
-- order, and returns how many queues got a new tick — as the original. Difference: one
-- set-based read first finds the queues where pgq.ticker(queue) could tick, warn or raise, and
-- only those are called; for the others it would return NULL without side effects. A pass that
-- ticks nothing therefore writes nothing and takes no row locks.
-- That read is pgq._ticker_due(NULL, false)'s query (the same rules, on the same values; the
-- 'due' and 'pgq' rows) written out here rather than called: the call, its SET clause and its
-- materialized result cost ~390k instructions per pass (callgrind, one queue), which kept the
-- produce → tick → batch cycle above the C extension's. test/pgq/ticker-poll.sql.test.ts checks
-- that the two agree. Change both together.
create or replace function pgq.ticker()
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    qname text;
    n     bigint := 0;
begin
    -- pgq.ticker(queue) decides and ticks, as in the original.
    for qname in
        with cur as (
            select coalesce(txid_current_if_assigned(), txid_snapshot_xmax(txid_current_snapshot())) as bound
        ), st as (
            select q.queue_name, q.queue_id, q.queue_ticker_max_count, q.queue_ticker_max_lag,
                   q.queue_ticker_idle_period,
                   l.tick_id, l.tick_time, l.tick_snapshot,
                   -- pgq.seq_getval without dynamic SQL. NULL: never called, so every tick recorded
                   -- its start value (pgq never uses setval(…, false)) and nothing is new.
                   coalesce(v.last_value, l.tick_event_seq) - l.tick_event_seq as new_events,
                   now() - l.tick_time as lag
              from pgq.queue q
              left join lateral (
                    select t.tick_id, t.tick_time, t.tick_event_seq, t.tick_snapshot
                      from pgq.tick t
                     where t.tick_queue = q.queue_id
                     order by t.tick_queue desc, t.tick_id desc
                     limit 1) l on true
              cross join lateral (
                    select pg_catalog.pg_sequence_last_value(q.queue_event_seq::regclass) as last_value) v
             where not q.queue_external_ticker and not q.queue_ticker_paused
        ), d as (
            select st.queue_name,
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
                   end as pgq_due
              from st cross join cur
        )
        select d.queue_name from d where d.pgq_due order by d.queue_name
    loop
        if pgq.ticker(qname) > 0 then
            n := n + 1;
        end if;
    end loop;
    return n;
end;
$$;
