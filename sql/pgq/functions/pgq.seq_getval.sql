-- pgq.seq_getval(i_seq_name text) returns bigint
--
-- Current last_value of a sequence (without advancing it and without needing currval() in this
-- session). A name without schema means public. NULL for NULL input.
-- Errors: the sequence does not exist.
--
-- Hot path (pgq.ticker(queue) reads the queue's event sequence once per tick):
-- pg_sequence_last_value reads the value without dynamic SQL, which cost more than the rest of a
-- tick (parse and plan of a SELECT per call). It is NULL only while the sequence was never
-- called (or after setval(…, false)); then the SELECT gives the value as before.
create or replace function pgq.seq_getval(i_seq_name text)
returns bigint
language plpgsql strict
as $$
declare
    fq  text := pgq.quote_fqname(i_seq_name);
    res bigint := pg_catalog.pg_sequence_last_value(fq::pg_catalog.regclass);
begin
    if res is null then
        execute 'select last_value from ' || fq into res;
    end if;
    return res;
end;
$$;
