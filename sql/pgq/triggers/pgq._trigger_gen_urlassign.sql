-- pgq._trigger_gen_urlassign(i_var text, i_rec text, i_cols text[], i_types oid[], i_skip boolean[], i_ind text) returns text
--
-- Code generation: PL/pgSQL statements (indented by i_ind) that set variable i_var to the
-- urlencoded row of record i_rec: pgq._trigger_gen_urlrow's expression, then, only when the
-- row holds a character outside printable ASCII, one pgq._urlenc_nonascii pass over it.
create or replace function pgq._trigger_gen_urlassign(i_var text, i_rec text, i_cols text[], i_types oid[], i_skip boolean[], i_ind text)
returns text
language sql
stable
as $$
    select i_ind || i_var || ' := ' || pgq._trigger_gen_urlrow(i_rec, i_cols, i_types, i_skip) || E';\n'
           || i_ind || 'if (' || i_var || E' collate pg_catalog."C") operator(pg_catalog.~) ''[^ -~]'' then '
           || i_var || ' := pgq._urlenc_nonascii(' || i_var || E'); end if;\n';
$$;
