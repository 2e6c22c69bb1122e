-- pgq.seq_setval(i_seq_name text, i_new_value int8) returns bigint
--
-- Moves a sequence forward to i_new_value; never moves it back. Returns the resulting
-- last_value (i_new_value if it moved, the larger current value otherwise).
create or replace function pgq.seq_setval(i_seq_name text, i_new_value int8)
returns bigint
language plpgsql strict
as $$
declare
    cur bigint;
begin
    cur := pgq.seq_getval(i_seq_name);
    if cur < i_new_value then
        perform pg_catalog.setval(pgq.quote_fqname(i_seq_name)::regclass, i_new_value);
        return i_new_value;
    end if;
    return cur;
end;
$$;
