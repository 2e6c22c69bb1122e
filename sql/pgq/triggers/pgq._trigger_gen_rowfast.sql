-- pgq._trigger_gen_rowfast(i_nsp text, i_tbl text, i_cols text[], i_types oid[], i_pkeys text[],
--                          i_queue text, i_op text) returns text
--
-- Code generation for pgq._trigger_prepare: the PL/pgSQL statements that write the event of
-- one row for a plain AFTER row logutriga('queue') — no option, the case of every Londiste
-- trigger on a provider — exactly as pgq._trigger_gen_branch's code does (the same checks in
-- the same order, the same row encoding, pgq._trigger_gen_urlrow), for code that runs as
-- security definer: every function, operator and comparison in it is schema-qualified, it
-- holds no expression of anyone's but this generator's, and it inserts the event itself
-- (pgq._trigger_gen_insert) instead of calling the queue's insert function.
-- Variables: _pgq_n/_pgq_o = NEW/OLD, i_op the expression that is TG_OP there; it uses _pgq_d
-- text, _pgq_ic int4, _pgq_id int8. The key check compares with <> (primary key columns are
-- never NULL), which pgq._trigger_prepare allows only for built-in key types
-- (pgq._trigger_rowfast_ok).
create or replace function pgq._trigger_gen_rowfast(i_nsp text, i_tbl text, i_cols text[], i_types oid[],
                                                    i_pkeys text[], i_queue text, i_op text)
returns text
language plpgsql
stable
as $$
declare
    ind text := '        ';
    n int := coalesce(pg_catalog.array_length(i_cols, 1), 0);
    keep boolean[] := pg_catalog.array_fill(false, array[n]);
    changed text;
    code text;
begin
    if coalesce(pg_catalog.cardinality(i_pkeys), 0) = 0 then
        code := ind || 'if ' || i_op || E' operator(pg_catalog.<>) ''INSERT'' then raise exception ''Update/Delete on table without pkey'' using errcode = ''PQ020''; end if;\n';
    else
        select pg_catalog.string_agg(pg_catalog.format('(_pgq_n.%1$s operator(pg_catalog.<>) _pgq_o.%1$s)', pgq._trigger_field(k)), ' or ')
          into changed from unnest(i_pkeys) as k;
        code := ind || 'if ' || i_op || ' operator(pg_catalog.=) ''UPDATE'' and (' || changed
                || E') then raise exception ''primary key update not allowed'' using errcode = ''PQ020''; end if;\n';
    end if;
    return code
        || ind || 'if ' || i_op || E' operator(pg_catalog.=) ''DELETE'' then\n'
        || pgq._trigger_gen_urlassign('_pgq_d', '_pgq_o', i_cols, i_types, keep, ind || '    ')
        || ind || E'else\n'
        || pgq._trigger_gen_urlassign('_pgq_d', '_pgq_n', i_cols, i_types, keep, ind || '    ')
        || ind || E'end if;\n'
        || pgq._trigger_gen_insert(i_queue, pg_catalog.quote_literal(i_queue),
                                   array['pg_catalog.left(' || i_op || ', 1) operator(pg_catalog.||) '
                                             || pg_catalog.quote_literal(':' || pg_catalog.array_to_string(i_pkeys, ',')),
                                         '_pgq_d', pg_catalog.quote_literal(i_nsp || '.' || i_tbl), 'null', 'null', 'null'],
                                   ind);
end;
$$;

-- pgq._trigger_rowfast_ok(i_cols text[], i_types oid[], i_pkeys text[], i_tgtype int2, i_args text[])
--     returns boolean
--
-- Whether a table's own logutriga may take pgq._trigger_gen_rowfast's code for this trigger:
-- an AFTER row trigger on INSERT / UPDATE / DELETE (not TRUNCATE) whose only argument is the
-- queue, on a table without _pgq_ev_* columns whose primary key columns are of built-in
-- scalar types (or domains over them). Anything else keeps the generic code.
create or replace function pgq._trigger_rowfast_ok(i_cols text[], i_types oid[], i_pkeys text[], i_tgtype int2, i_args text[])
returns boolean
language sql
stable
as $$
    select (i_tgtype & 1) = 1 and (i_tgtype & 2) = 0 and (i_tgtype & 32) = 0
       and coalesce(pg_catalog.cardinality(i_args), 0) = 1
       and not exists (select 1 from unnest(i_cols) as c where left(c, 8) = '_pgq_ev_')
       and not exists (
           -- key types whose <> (what operator(pg_catalog.<>) resolves to) is the type's own
           -- equality, as IS DISTINCT FROM's: the built-in scalars
           select 1
             from unnest(i_cols, i_types) as u(col, typ)
             join pg_catalog.pg_type t on t.oid = u.typ
            where u.col = any (i_pkeys)
              and case when t.typtype = 'd' then t.typbasetype else t.oid end
                  not in (16, 17, 18, 19, 20, 21, 23, 25, 26, 700, 701, 1042, 1043, 1082, 1083, 1114, 1184, 1186, 1700, 2950));
$$;
