-- pgq.batch_event_sql(x_batch_id bigint) returns text
--
-- The SELECT that returns the batch's events, ordered by ev_id, with the columns of
-- pgq.get_batch_events. An event belongs to the batch when its transaction is visible in the
-- closing tick's snapshot and not in the opening tick's; retried events only to their owner.
-- Transactions that were still running at the opening tick and are far below its xmax are
-- listed explicitly (ev_txid in (...)) so the txid range scanned stays short.
-- Errors: 'batch not found'.
create or replace function pgq.batch_event_sql(x_batch_id bigint)
returns text
language plpgsql
as $$
declare
    b         record;
    late_tx   text := '';
    txid      bigint;
    cols      text := 'select ev_id, ev_time, ev_txid, ev_retry, ev_type, ev_data, '
                      || 'ev_extra1, ev_extra2, ev_extra3, ev_extra4';
    owner     text;
    tbl       text;
    part      text;
    res       text := '';
begin
    select s.sub_id, s.sub_queue, s.sub_last_tick, s.sub_next_tick,
           txid_snapshot_xmax(last.tick_snapshot) as tx_start,
           txid_snapshot_xmax(cur.tick_snapshot) as tx_end,
           last.tick_snapshot as last_snap,
           cur.tick_snapshot as cur_snap
      into b
      -- offset 0: the batch is found alone, by its index; joined, the planner may walk the
      -- subscription's state rows by their primary key instead, dead versions included.
      from (select * from pgq._open_batch o where o.sub_batch = x_batch_id offset 0) s
      join pgq.tick last on last.tick_queue = s.sub_queue and last.tick_id = s.sub_last_tick
      join pgq.tick cur on cur.tick_queue = s.sub_queue and cur.tick_id = s.sub_next_tick
     where s.sub_batch = x_batch_id;
    if not found then
        raise exception 'batch not found' using errcode = 'PQ003';
    end if;

    -- Transactions in progress at the opening tick that committed by the closing one.
    for txid in
        select x from txid_snapshot_xip(b.last_snap) x
         where not x in (select y from txid_snapshot_xip(b.cur_snap) y)
         order by 1 desc
    loop
        if txid >= b.tx_start - 100 then
            b.tx_start := txid;     -- close to the range: widen the range instead
        else
            late_tx := late_tx || case when late_tx = '' then '' else ',' end || txid::text;
        end if;
    end loop;

    owner := ' and (ev_owner is null or ev_owner = ' || b.sub_id::text || ')';
    for tbl in select pgq.quote_fqname(t) from pgq.batch_event_tables(x_batch_id) t loop
        part := cols || ' from ' || tbl || ' ev'
            || ' where ev.ev_txid >= ' || b.tx_start::text
            || ' and ev.ev_txid <= ' || b.tx_end::text
            || ' and txid_visible_in_snapshot(ev.ev_txid, ' || quote_literal(b.cur_snap::text) || ')'
            || ' and not txid_visible_in_snapshot(ev.ev_txid, ' || quote_literal(b.last_snap::text) || ')'
            || owner;
        if late_tx <> '' then
            part := part || ' union all ' || cols || ' from ' || tbl || ' ev'
                || ' where ev.ev_txid in (' || late_tx || ')' || owner;
        end if;
        res := res || case when res = '' then '' else ' union all ' end || part;
    end loop;
    if res = '' then
        raise exception 'could not construct sql for batch %', x_batch_id using errcode = 'PQ009';
    end if;
    return res || ' order by 1';
end;
$$;
