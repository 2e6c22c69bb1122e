-- pgq._urlenc_call(i_str text) returns text
--
-- The whole URL-encoding of the C triggers (pgq._urlenc_ascii, then pgq._urlenc_nonascii)
-- behind a PL/pgSQL call, for the rare branch of the generated encoders' per-value tests
-- (pgq._urlenc_opt, pgq._urlenc_struct): a value with a character those tests do not let
-- through. Inlined into an encoder, the 33 replace() calls of pgq._urlenc_ascii would be set up
-- (an ACL check each) in every transaction for every such column, even when no value needed
-- them; behind this call they are set up once per transaction, and only when a value needs
-- them. A value comes out fully encoded, so the encoders need no pass over the whole row.
-- NULL in, NULL out.
create or replace function pgq._urlenc_call(i_str text)
returns text
language plpgsql
immutable strict
as $$
begin
    return pgq._urlenc_nonascii(pgq._urlenc_ascii(i_str));
end;
$$;
