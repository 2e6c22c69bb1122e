-- pgq._trigger_gen_urlassign(i_var text, i_rec text, i_cols text[], i_types oid[], i_skip boolean[], i_ind text) returns text
--
-- Code generation: the PL/pgSQL statement (indented by i_ind) that sets variable i_var to the
-- urlencoded row of record i_rec: pgq._trigger_gen_urlrow's expression, which encodes every
-- value fully (characters outside printable ASCII included), so no second pass is needed.
create or replace function pgq._trigger_gen_urlassign(i_var text, i_rec text, i_cols text[], i_types oid[], i_skip boolean[], i_ind text)
returns text
language sql
stable
as $$
    select i_ind || i_var || ' := ' || pgq._trigger_gen_urlrow(i_rec, i_cols, i_types, i_skip) || E';\n';
$$;
