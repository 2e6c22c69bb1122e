-- pgq.ticker_poll(i_queue_names text[], i_max_ticks integer)
--     returns setof (queue_name text, tick_id bigint, new_events bigint, waited boolean)
--
-- Our ticker's pass (layers/pgq/ticker.ts; the original pgqd calls pgq.ticker() instead): ticks
-- the given queues (NULL: every queue neither paused nor externally ticked), in name order, when
--   * pgq.ticker(queue) would tick: PgQ's rules (ticker_max_count, ticker_max_lag, the idle
--     back-off up to ticker_idle_period), decided by pgq._ticker_due on the values pgq.ticker reads
--     and recorded by pgq._tick_now — or by pgq.ticker(queue) itself where it would raise or warn
--     (no tick yet, an xmin ahead, a negative count); or
--   * the queue does not batch (queue_ticker_batching false: neither ticker_max_lag nor
--     ticker_max_count was ever set), a consumer is waiting (it finished every tick so far and
--     has no batch open) and committed events are waiting that the last tick did not see. So a
--     consumer gets its events milliseconds after they commit, while a busy consumer's next
--     batch grows with the load until it asks again.
-- Finding nothing due writes nothing (see pgq._ticker_due); looking for committed events is one
-- index probe of the queue's event tables (ev_txid at or above the last tick's xmax, or among
-- the transactions it saw in progress), never a scan from an old xmin.
-- Each new tick is announced with pg_notify('pgq.' || queue_name, tick_id) — or
-- 'pgq.' || md5(queue_name) for names longer than 59 bytes — delivered when the pass commits,
-- so a consumer process LISTENing there wakes at once (only the ticker notifies, never producers);
-- not for a queue without a registered consumer (a consumer registering during the pass may then
-- see that one tick at its next loop instead, its later ticks are announced).
-- i_max_ticks (NULL: no limit): stop after this many ticks by PgQ's rules, so that a pass over
-- many queues all due at once (a thousand new queues' idle ticks) commits, and wakes their
-- consumers, in pieces rather than in one long transaction; the caller passes again soon.
-- Returns one row per new tick: the queue, the tick id, how far the event sequence moved (at
-- least 1 for a tick made for committed events waiting, which may have taken their ids before
-- the last tick), and whether a consumer was waiting for it (had finished every earlier tick and
-- had no batch open): the ticker polls a queue every few milliseconds only while its ticks are
-- waited for — a queue whose consumers are busy or stopped gets PgQ's rules at the ticker's
-- period, and a consumer that catches up says so (tick-notify.ts).
-- Errors: those of pgq.ticker(queue) ('Invalid PgQ state', …).
-- Locks: the ticked queues' pgq.queue rows (FOR NO KEY UPDATE) until commit, as pgq.ticker(queue).
-- Its result gained a column (waited): made again.
do $old$
begin
    if exists (select 1 from pg_catalog.pg_proc p
                where p.oid = to_regprocedure('pgq.ticker_poll(text[], integer)')
                  and not ('waited' = any (p.proargnames))) then
        drop function pgq.ticker_poll(text[], integer);
    end if;
end
$old$;
create or replace function pgq.ticker_poll(i_queue_names text[], i_max_ticks integer,
    out queue_name text, out tick_id bigint, out new_events bigint, out waited boolean)
returns setof record
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    r       record;
    waiting boolean;
    seq     bigint;
    new_id  bigint;
    by_rule integer := 0;
begin
    for r in select * from pgq._ticker_due(i_queue_names, true) loop
        new_id := null;
        waited := null;
        if r.due <> 'latency' then
            exit when by_rule >= i_max_ticks;
            by_rule := by_rule + 1;
        end if;
        if r.due = 'pgq' then
            new_id := pgq.ticker(r.queue_name);
        elsif r.due = 'due' then
            -- Due by PgQ's rules, decided on the values pgq.ticker(queue) would read: tick
            -- directly (a third of its statements), under the same lock and check.
            new_id := pgq._tick_now(r.queue_id, r.last_tick_id);
        else
            -- Rows visible to this statement are committed; the last tick saw none of these:
            -- a transaction that began after its snapshot (the newest committed txid is past
            -- its xmax) or was in progress then. Two index look-ups on ev_txid, whatever the
            -- table's size: an EXISTS over `ev_txid >= x or ev_txid = any (xip)` was planned as
            -- a sequential scan stopping at the first match, and the new rows are the last
            -- ones — it read the whole table since its rotation on every poll (1 ms at 12,000
            -- events, and growing until the next rotation).
            execute format('select coalesce((select max(ev_txid) from %1$s), 0) >= $1'
                           ' or (cardinality($2) > 0 and exists (select 1 from %1$s where ev_txid = any ($2)))',
                           r.data_pfx)
               into waiting
              using txid_snapshot_xmax(r.last_snapshot), array(select txid_snapshot_xip(r.last_snapshot));
            if waiting then
                new_id := pgq._tick_now(r.queue_id, r.last_tick_id);
            end if;
        end if;
        if new_id is not null then
            -- a consumer that finished the tick before this one and holds no batch waits for it
            waited := r.due = 'latency'
                   or exists (select 1 from pgq.subscription s
                               where s.sub_queue = r.queue_id and s.sub_last_tick = r.last_tick_id
                                 and s.sub_batch is null);
            -- No NOTIFY where no consumer is registered: nobody waits for it, and after a
            -- thousand new queues' idle ticks every LISTENing backend would read them all.
            perform pg_notify(case when octet_length(r.queue_name) <= 59 then 'pgq.' || r.queue_name
                                   else 'pgq.' || md5(r.queue_name) end,
                              new_id::text)
              where exists (select 1 from pgq.subscription_key k where k.sub_queue = r.queue_id);
            select t.tick_event_seq - coalesce(r.last_event_seq, t.tick_event_seq) into seq
              from pgq.tick t where t.tick_queue = r.queue_id and t.tick_id = new_id;
            queue_name := r.queue_name;
            tick_id := new_id;
            -- A tick for waiting events counts at least one, also when the sequence had moved
            -- already by the last tick (they were in progress then): the caller polls queues
            -- with events often, and this one has some.
            new_events := case when r.due = 'latency' then greatest(seq, 1) else seq end;
            return next;
        end if;
    end loop;
end;
$$;
