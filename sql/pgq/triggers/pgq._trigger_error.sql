-- pgq._trigger_error(i_msg text) returns text
--
-- Raises i_msg as an error (SQLSTATE PQ020); usable inside an expression, e.g.
-- coalesce(key_value, pgq._trigger_error('...')). Never returns.
create or replace function pgq._trigger_error(i_msg text)
returns text
language plpgsql
as $$
begin
    raise exception '%', i_msg using errcode = 'PQ020';
end;
$$;
