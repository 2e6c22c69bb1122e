-- pgq.set_queue_config(x_queue_name text, x_param_name text, x_param_value text) returns integer
--
-- Changes one queue setting. x_param_name is the pgq.queue column without (or with) its
-- "queue_" prefix: ticker_max_count, ticker_max_lag, ticker_idle_period, ticker_paused,
-- rotation_period, external_ticker, disable_insert, per_tx_limit. The value is text and is cast
-- to the column type (e.g. '5 seconds', 'true', '1000'; per_tx_limit also takes NULL = no limit).
-- Setting ticker_max_lag or ticker_max_count also sets queue_ticker_batching (see pgq.ticker_poll).
-- Returns 1. Errors: NULL queue or parameter; unknown queue; unknown parameter; a value of the
-- wrong type. Nothing changes on error.
create or replace function pgq.set_queue_config(x_queue_name text, x_param_name text, x_param_value text)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    col text;
begin
    if x_queue_name is null or x_param_name is null then
        raise exception 'Invalid NULL value' using errcode = 'PQ006';
    end if;
    perform 1 from pgq.queue where queue_name = x_queue_name;
    if not found then
        raise exception 'No such event queue' using errcode = 'PQ001';
    end if;
    col := 'queue_' || regexp_replace(x_param_name, '^queue_', '');
    if col not in ('queue_ticker_max_count', 'queue_ticker_max_lag', 'queue_ticker_idle_period',
                   'queue_ticker_paused', 'queue_rotation_period', 'queue_external_ticker',
                   'queue_disable_insert', 'queue_per_tx_limit')
    then
        raise exception 'cannot change parameter "%"', x_param_name using errcode = 'PQ006';
    end if;
    if x_param_value is null and col <> 'queue_per_tx_limit' then
        raise exception 'parameter "%" cannot be NULL', x_param_name using errcode = 'PQ006';
    end if;
    -- Setting ticker_max_lag or ticker_max_count asks for batching: our ticker (pgq.ticker_poll)
    -- then ticks the queue only by those, as PgQ does, instead of as soon as events commit.
    execute format('update pgq.queue set %I = %L, queue_ticker_batching = queue_ticker_batching or %L where queue_name = %L',
                   col, x_param_value, col in ('queue_ticker_max_count', 'queue_ticker_max_lag'), x_queue_name);
    return 1;
end;
$$;
