-- pgq._trigger_gen_keyeq(i_rec text, i_col text, i_type oid) returns text
--
-- Code generation for sqltriga: text expression  <quoted ident>='<quoted value of i_rec.i_col>'
-- raising "logtriga: Unexpected NULL key value" (PQ020) when the value is NULL.
create or replace function pgq._trigger_gen_keyeq(i_rec text, i_col text, i_type oid)
returns text
language sql
stable
as $$
    select pg_catalog.quote_literal(pg_catalog.quote_ident(i_col) || '=')
           || ' || coalesce(pg_catalog.quote_literal('
           || pgq._trigger_outexpr(i_rec || '.' || pgq._trigger_field(i_col), i_type)
           || '), pgq._trigger_error(''logtriga: Unexpected NULL key value''))';
$$;
