-- pgq._trigger_gen_urlassign(i_var text, i_rec text, i_cols text[], i_types oid[], i_skip boolean[], i_ind text) returns text
--
-- Code generation: PL/pgSQL statements (indented by i_ind) that set variable i_var to the
-- urlencoded row of record i_rec (pgq._trigger_gen_urlrow): the optimistic form first, and
-- the exact form when the result holds a character the optimistic one does not encode (so
-- the result is always the exact one; the check is one regex over the row).
create or replace function pgq._trigger_gen_urlassign(i_var text, i_rec text, i_cols text[], i_types oid[], i_skip boolean[], i_ind text)
returns text
language sql
stable
as $$
    select i_ind || i_var || ' := ' || pgq._trigger_gen_urlrow(i_rec, i_cols, i_types, i_skip, false) || E';\n'
           || i_ind || 'if ' || i_var || E' operator(pg_catalog.~) ''[^-A-Za-z0-9_.%+&=]'' then\n'
           || i_ind || '    ' || i_var || ' := ' || pgq._trigger_gen_urlrow(i_rec, i_cols, i_types, i_skip, true) || E';\n'
           || i_ind || E'end if;\n';
$$;
