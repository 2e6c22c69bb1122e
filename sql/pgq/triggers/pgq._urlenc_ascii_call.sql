-- pgq._urlenc_ascii_call(i_str text) returns text
--
-- pgq._urlenc_ascii behind a PL/pgSQL call, for pgq._urlenc_opt's rare branch (text with
-- characters to encode). Inlined into an encoder, the 33 replace() calls of pgq._urlenc_ascii
-- were set up (an ACL check each) in every transaction for every text column, even when no
-- value needed them — a quarter of a one-row transaction's trigger cost; behind this call they
-- are set up once per transaction, and only when a value needs them. Types whose values nearly
-- always need them (json, arrays, bytea, …) still get pgq._urlenc_ascii inlined: for them a call
-- per value would cost more than the set-up. NULL in, NULL out.
create or replace function pgq._urlenc_ascii_call(i_str text)
returns text
language plpgsql
immutable strict
as $$
begin
    return pgq._urlenc_ascii(i_str);
end;
$$;
