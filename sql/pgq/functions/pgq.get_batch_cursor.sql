-- pgq.get_batch_cursor(i_batch_id bigint, i_cursor_name text, i_quick_limit int4, i_extra_where text,
--     out ev_id, ... out ev_extra4) returns setof record
-- pgq.get_batch_cursor(i_batch_id bigint, i_cursor_name text, i_quick_limit int4, ...)
--
-- Lazy fetch for big batches: opens a NO SCROLL cursor named i_cursor_name over the batch's
-- events (optionally filtered by the SQL condition i_extra_where, which is trusted SQL from the
-- consumer) and returns its first i_quick_limit rows right away; the caller FETCHes the rest and
-- CLOSEs it, within the same transaction. Returns nothing when any argument but i_extra_where
-- is NULL. Errors: 'batch not found'; a cursor of that name already open.
create or replace function pgq.get_batch_cursor(
    in i_batch_id bigint, in i_cursor_name text, in i_quick_limit int4, in i_extra_where text,
    out ev_id bigint, out ev_time timestamptz, out ev_txid bigint, out ev_retry int4,
    out ev_type text, out ev_data text,
    out ev_extra1 text, out ev_extra2 text, out ev_extra3 text, out ev_extra4 text)
returns setof record
language plpgsql
as $$
declare
    cname text;
    q     text;
begin
    if i_batch_id is null or i_cursor_name is null or i_quick_limit is null then
        return;
    end if;
    cname := quote_ident(i_cursor_name);
    q := pgq.batch_event_sql(i_batch_id);
    if i_extra_where is not null then
        q := 'select * from (' || left(q, length(q) - length(' order by 1')) || ') _evs where '
            || i_extra_where || ' order by 1';
    end if;
    execute 'declare ' || cname || ' no scroll cursor for ' || q;
    if i_quick_limit > 0 then
        -- FETCH cannot feed RETURN QUERY EXECUTE (it is not a plannable query); loop instead.
        for ev_id, ev_time, ev_txid, ev_retry, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4
            in execute 'fetch ' || i_quick_limit::text || ' from ' || cname
        loop
            return next;
        end loop;
    end if;
end;
$$;

create or replace function pgq.get_batch_cursor(
    in i_batch_id bigint, in i_cursor_name text, in i_quick_limit int4,
    out ev_id bigint, out ev_time timestamptz, out ev_txid bigint, out ev_retry int4,
    out ev_type text, out ev_data text,
    out ev_extra1 text, out ev_extra2 text, out ev_extra3 text, out ev_extra4 text)
returns setof record
language sql strict
as $$
    select * from pgq.get_batch_cursor($1, $2, $3, null);
$$;
