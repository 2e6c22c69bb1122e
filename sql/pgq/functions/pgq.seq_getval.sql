-- pgq.seq_getval(i_seq_name text) returns bigint
--
-- Current last_value of a sequence (without advancing it and without needing currval() in this
-- session). A name without schema means public. NULL for NULL input.
-- Errors: the sequence does not exist.
create or replace function pgq.seq_getval(i_seq_name text)
returns bigint
language plpgsql strict
as $$
declare
    res bigint;
begin
    execute 'select last_value from ' || pgq.quote_fqname(i_seq_name) into res;
    return res;
end;
$$;
