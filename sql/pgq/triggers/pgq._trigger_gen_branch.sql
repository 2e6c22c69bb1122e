-- pgq._trigger_gen_branch(i_kind, i_nsp, i_tbl, i_cols, i_types, i_pkeys, i_args, i_opt, i_before,
--                         i_insert_fn, i_op) returns text
--
-- Code generation for pgq._trigger_prepare: the PL/pgSQL statements that encode one row event
-- for one trigger, inside the generated encoder or a table's own trigger function (variables
-- _pgq_n/_pgq_o = NEW/OLD; i_op the expression that is TG_OP there: '$2' in the encoder).
--   i_kind    'logutriga', 'sqltriga' or 'jsontriga'
--   i_nsp, i_tbl  schema and table name (ev_extra1 is "<schema>.<table>", unquoted, as in C)
--   i_cols, i_types  live columns in attnum order and their type oids
--   i_pkeys   primary key columns in index order
--   i_args    all trigger arguments (queue first); i_opt = pgq._trigger_parse_args(i_args)
--   i_before  true for a BEFORE trigger
--   i_insert_fn  the function that inserts the event, with pgq.insert_event's arguments
--             (pgq._trigger_queue_insert: the queue's own, or pgq.insert_event)
--   i_op      TG_OP as the generated code sees it ('$2' in the encoder, 'TG_OP' in a trigger)
-- Event formats (identical to PgQ 3.5's C triggers) are described in README.md beside this file.
-- Misconfiguration (unknown argument, SKIP on AFTER, deny, unknown _pgq_ev_* column, no
-- queue name) becomes a RAISE in the generated code, so only that trigger fails, when it fires.
drop function if exists pgq._trigger_gen_branch(text, text, text, text[], oid[], text[], text[], jsonb, boolean);
drop function if exists pgq._trigger_gen_branch(text, text, text, text[], oid[], text[], text[], jsonb, boolean, text);
create or replace function pgq._trigger_gen_branch(
    i_kind text, i_nsp text, i_tbl text, i_cols text[], i_types oid[], i_pkeys text[],
    i_args text[], i_opt jsonb, i_before boolean, i_insert_fn text, i_op text)
returns text
language plpgsql
stable
as $$
declare
    param int4;
    ind text := '        ';
    code text := '';
    ign text[];
    pkl text[];
    pkstr text;
    js_head text;
    magic_fields text[] := array['_pgq_ev_type', '_pgq_ev_data', '_pgq_ev_extra1', '_pgq_ev_extra2',
                                 '_pgq_ev_extra3', '_pgq_ev_extra4'];
    magic_vars text[] := array['_pgq_t', '_pgq_d', '_pgq_e1', '_pgq_e2', '_pgq_e3', '_pgq_e4'];
    expr_fields text[] := array['ev_type', 'ev_data', 'ev_extra1', 'ev_extra2', 'ev_extra3', 'ev_extra4'];
    skip_lit text := case when (i_opt->>'skip')::boolean then '''y''' else 'null' end;
    no_event text;
    n int := coalesce(array_length(i_cols, 1), 0);
    is_magic boolean[] := '{}';
    is_skip boolean[] := '{}';
    is_pk boolean[] := '{}';
    eq_ok boolean[] := '{}';
    first_pk int;
    col text;
    chk text;
    parts text;
    expr text;
    vals text[];
    pkchg text[];
    ignchg text[];
    chk_code text;
    rec text;
    need_r boolean;
    t_expr text;
    tbl_name text := i_nsp || '.' || i_tbl;
begin
    -- An AFTER trigger's return value is ignored: its encoder returns NULL once done, which the
    -- trigger tests with one IS NULL (no function call to set up in each transaction).
    no_event := case when i_before then 'return array[null, null, null, null, null, null, ''y'', ' || skip_lit || ']::text[];'
                     else 'return null;' end;
    if coalesce(array_length(i_args, 1), 0) < 1 then
        return ind || 'raise exception ''pgq trigger must have destination queue as argument'' using errcode = ''PQ020'';' || E'\n';
    end if;
    if i_opt->>'bad' is not null then
        return ind || 'raise exception ''bad param to pgq trigger'' using errcode = ''PQ020'', detail = '
               || quote_literal('argument: ' || (i_opt->>'bad')) || E';\n';
    end if;
    if i_opt->>'ignore' is not null then
        ign := regexp_split_to_array(btrim(i_opt->>'ignore', E' \t\n\r,'), E'[\\s,]+');
    end if;
    if i_opt->>'pkey' is not null then
        pkstr := i_opt->>'pkey';
        pkl := regexp_split_to_array(btrim(pkstr, E' \t\n\r,'), E'[\\s,]+');
        if pkstr = '' then pkl := '{}'; end if;
    else
        pkstr := array_to_string(i_pkeys, ',');
        pkl := i_pkeys;
    end if;

    for i in 1 .. n loop
        col := i_cols[i];
        is_magic[i] := left(col, 8) = '_pgq_ev_';
        if is_magic[i] and not col = any (magic_fields) then
            return ind || 'raise exception ''Unknown magic column: %'', ' || quote_literal(col)
                   || E' using errcode = ''PQ020'';\n';
        end if;
        is_skip[i] := is_magic[i] or (ign is not null and col = any (ign));
        is_pk[i] := not is_magic[i] and col = any (pkl);
        if is_pk[i] and first_pk is null then first_pk := i; end if;
        eq_ok[i] := exists (
            select 1 from pg_catalog.pg_type t
              join pg_catalog.pg_opclass oc on oc.opcintype = case when t.typtype = 'd' then t.typbasetype else t.oid end
              join pg_catalog.pg_am am on am.oid = oc.opcmethod
             where t.oid = i_types[i] and oc.opcdefault and am.amname = 'btree' and t.typcategory <> 'A');
    end loop;

    -- checks done before anything else, in the C order
    if cardinality(pkl) = 0 then
        code := code || ind || 'if ' || i_op || ' <> ''INSERT'' then raise exception ''Update/Delete on table without pkey'''
                || E' using errcode = ''PQ020''; end if;\n';
    end if;
    if (i_opt->>'skip')::boolean and not i_before then
        return code || ind || E'raise exception ''SKIP does not work in AFTER trigger.'' using errcode = ''PQ020'';\n';
    end if;
    if (i_opt->>'deny')::boolean then
        return code || ind || 'raise exception ''Table ''''%'''' to queue ''''%'''': change not allowed (%)'', '
               || quote_literal(tbl_name) || ', ' || quote_literal(i_args[1]) || ', ' || i_op || E' using errcode = ''PQ020'';\n';
    end if;

    -- the row is read from _pgq_n / _pgq_o directly; _pgq_r (a copy) only when expressions or
    -- _pgq_ev_* columns need "the row"
    need_r := coalesce(i_opt->'expr' <> '{}'::jsonb, false) or true = any (is_magic);
    if i_kind = 'sqltriga' then
        -- INSERT: (col,...) values ('v',...)
        parts := '';
        vals := '{}';
        for i in 1 .. n loop
            continue when is_skip[i];
            parts := parts || case when parts = '' then '' else ',' end || quote_ident(i_cols[i]);
            if cardinality(vals) > 0 then
                vals := vals || ''','''::text;
            end if;
            vals := vals || ('coalesce(pg_catalog.quote_literal('
                             || pgq._trigger_outexpr('_pgq_n.' || pgq._trigger_field(i_cols[i]), i_types[i]) || '), ''null'')');
        end loop;
        code := code || ind || 'if ' || i_op || E' = ''INSERT'' then\n'
                || ind || '    _pgq_d := ' || pgq._trigger_gen_concat(null, array[quote_literal('(' || parts || ') values (')] || vals || array['''' || ')' || '''']) || E';\n'
                || case when need_r then ind || E'    _pgq_r := _pgq_n;\n' else '' end
                || ind || 'elsif ' || i_op || E' = ''UPDATE'' then\n';
        -- UPDATE: a changed key is an error; the changed columns, one concat_ws of CASEs;
        -- none changed: no event if only ignored columns changed, else the first key = its value
        pkchg := '{}';
        ignchg := '{}';
        vals := '{}';
        for i in 1 .. n loop
            chk := pgq._trigger_gen_changed(i_cols[i], i_types[i], eq_ok[i]);
            if is_pk[i] then
                pkchg := pkchg || chk;
            elsif is_skip[i] then
                ignchg := ignchg || chk;
            else
                vals := vals || ('case when ' || chk || ' then ' || quote_literal(quote_ident(i_cols[i]) || '=')
                                 || ' || coalesce(pg_catalog.quote_literal('
                                 || pgq._trigger_outexpr('_pgq_n.' || pgq._trigger_field(i_cols[i]), i_types[i]) || '), ''NULL'') end');
            end if;
        end loop;
        if cardinality(pkchg) > 0 then
            code := code || ind || '    if ' || array_to_string(pkchg, ' or ')
                    || E' then raise exception ''primary key update not allowed'' using errcode = ''PQ020''; end if;\n';
        end if;
        code := code || ind || '    _pgq_d := ' || pgq._trigger_gen_concat(',', vals) || E';\n'
                || ind || E'    if _pgq_d = '''' then\n';
        if cardinality(ignchg) > 0 then
            code := code || ind || '        if ' || array_to_string(ignchg, ' or ') || ' then ' || no_event || E' end if;\n';
        end if;
        if first_pk is null then
            code := code || ind || E'        raise exception ''primary key column not found'' using errcode = ''PQ020'';\n';
        else
            code := code || ind || '        _pgq_d := ' || pgq._trigger_gen_keyeq('_pgq_o', i_cols[first_pk], i_types[first_pk]) || E';\n';
        end if;
        code := code || ind || E'    end if;\n'
                || ind || '    _pgq_d := _pgq_d || '' where '' || ' || pgq._trigger_gen_where('_pgq_o', i_cols, i_types, is_pk) || E';\n'
                || case when need_r then ind || E'    _pgq_r := _pgq_n;\n' else '' end;
        if (i_opt->>'backup')::boolean then
            code := code || pgq._trigger_gen_urlassign('_pgq_e2', '_pgq_o', i_cols, i_types, is_skip, ind || '    ');
        end if;
        code := code || ind || E'else\n'
                || ind || '    _pgq_d := ' || pgq._trigger_gen_where('_pgq_o', i_cols, i_types, is_pk) || E';\n'
                || case when need_r then ind || E'    _pgq_r := _pgq_o;\n' else '' end
                || ind || E'end if;\n';
        t_expr := 'left(' || i_op || ', 1)';
    else
        -- logutriga / jsontriga: an UPDATE that changed only ignored columns gives no event;
        -- a changed key column is an error (checked up to the first interesting change, as in C)
        chk_code := '';
        pkchg := '{}';
        for i in 1 .. n loop
            continue when not is_pk[i] and ign is null;
            chk := pgq._trigger_gen_changed(i_cols[i], i_types[i], eq_ok[i]);
            if is_pk[i] then
                pkchg := pkchg || chk;
                chk_code := chk_code || ind || '        if ' || chk || E' then raise exception ''primary key update not allowed'' using errcode = ''PQ020''; end if;\n';
            elsif is_skip[i] then
                chk_code := chk_code || ind || '        if ' || chk || E' then _pgq_ic := _pgq_ic + 1; end if;\n';
            else
                chk_code := chk_code || ind || '        if ' || chk || E' then exit _pgq_chk; end if;\n';
            end if;
        end loop;
        if ign is null and not coalesce((i_opt->>'backup')::boolean, false) then
            -- only key checks: one statement for an UPDATE, one test of the op for the others
            if cardinality(pkchg) > 0 then
                code := code || ind || 'if ' || i_op || ' = ''UPDATE'' and (' || array_to_string(pkchg, ' or ')
                        || E') then raise exception ''primary key update not allowed'' using errcode = ''PQ020''; end if;\n';
            end if;
        else
            code := code || ind || 'if ' || i_op || E' = ''UPDATE'' then\n';
            if ign is not null then
                code := code || ind || E'    _pgq_ic := 0;\n'
                        || ind || E'    <<_pgq_chk>> begin\n' || chk_code
                        || ind || '        if _pgq_ic > 0 then ' || no_event || E' end if;\n'
                        || ind || E'    end;\n';
            elsif chk_code <> '' then
                -- no ignored columns: only key checks, which never exit early
                code := code || replace(chk_code, ind || '        ', ind || '    ');
            end if;
            if (i_opt->>'backup')::boolean then
                code := code || case when i_kind = 'jsontriga'
                                     then ind || '    _pgq_e2 := ' || pgq._trigger_gen_jsonrow('_pgq_o', i_cols, i_types, is_skip) || E';\n'
                                     else pgq._trigger_gen_urlassign('_pgq_e2', '_pgq_o', i_cols, i_types, is_skip, ind || '    ') end;
            end if;
            code := code || ind || E'end if;\n';
        end if;
        if i_kind = 'jsontriga' then
            if i_opt->>'pkey' is not null then
                select string_agg(to_json(x)::text, ',' order by o) into js_head
                  from unnest(string_to_array(i_opt->>'pkey', ',')) with ordinality as u(x, o);
            else
                select string_agg(to_json(x)::text, ',' order by o) into js_head
                  from unnest(i_pkeys) with ordinality as u(x, o);
            end if;
            js_head := ',"table":[' || to_json(i_nsp)::text || ',' || to_json(i_tbl)::text || '],"pkey":['
                       || coalesce(js_head, '') || ']}';
            t_expr := '''{"op":"'' || ' || i_op || ' || ''"'' || ' || quote_literal(js_head);
        else
            t_expr := 'left(' || i_op || ', 1) || ' || quote_literal(':' || pkstr);
        end if;
        -- the row: OLD for DELETE, NEW otherwise
        code := code || ind || 'if ' || i_op || E' = ''DELETE'' then\n';
        for i in 1 .. 2 loop
            rec := case when i = 1 then '_pgq_o' else '_pgq_n' end;
            if i = 2 then
                code := code || ind || E'else\n';
            end if;
            code := code || case when i_kind = 'jsontriga'
                                 then ind || '    _pgq_d := ' || pgq._trigger_gen_jsonrow(rec, i_cols, i_types, is_skip) || E';\n'
                                 else pgq._trigger_gen_urlassign('_pgq_d', rec, i_cols, i_types, is_skip, ind || '    ') end
                    || case when need_r then ind || '    _pgq_r := ' || rec || E';\n' else '' end;
        end loop;
        code := code || ind || E'end if;\n';
    end if;
    -- ev_type and ev_extra1 go straight into the insert_event call, unless _pgq_ev_* columns or
    -- ev_*= expressions may override them: every statement saved counts on the hot path
    if need_r then
        code := code || ind || '_pgq_t := ' || t_expr || E';\n'
                || ind || '_pgq_e1 := ' || quote_literal(tbl_name) || E';\n';
    end if;

    -- _pgq_ev_* columns override the fields, then ev_*= expressions, then when=
    for i in 1 .. n loop
        continue when not is_magic[i];
        code := code || ind || magic_vars[array_position(magic_fields, i_cols[i])] || ' := '
                || pgq._trigger_outexpr('_pgq_r.' || pgq._trigger_field(i_cols[i]), i_types[i]) || E';\n';
    end loop;
    -- positional parameters would reach the encoder's own arguments: refuse them as C does
    select pgq._trigger_expr_param(e.value) into param
      from jsonb_each_text(i_opt->'expr') e where pgq._trigger_expr_param(e.value) is not null limit 1;
    if param is not null then
        return ind || format(E'raise exception ''there is no parameter $%s'' using errcode = ''42P02'';\n', param);
    end if;
    for i in 1 .. 6 loop
        expr := i_opt->'expr'->>expr_fields[i];
        continue when expr is null;
        code := code || ind || 'select case when _pgq_v is null then null else pg_catalog.format(''%s'', _pgq_v) end into '
                || magic_vars[i] || ' from (select (' || expr || E') as _pgq_v from (select (_pgq_r).*) as _pgq_s offset 0) as _pgq_x;\n';
    end loop;
    expr := i_opt->'expr'->>'when';
    if expr is not null then
        code := code || ind || 'select pg_catalog.pg_typeof(_pgq_v)::oid, case when _pgq_v is null then null else pg_catalog.format(''%s'', _pgq_v) end'
                || ' into _pgq_wt, _pgq_w from (select (' || expr || E') as _pgq_v from (select (_pgq_r).*) as _pgq_s offset 0) as _pgq_x;\n'
                || ind || E'if _pgq_wt <> 16 then raise exception ''when= query result must be boolean, got=%'', _pgq_wt using errcode = ''PQ020''; end if;\n'
                || ind || E'if _pgq_w is null then raise exception ''when= should not be NULL'' using errcode = ''PQ020''; end if;\n'
                || ind || 'if _pgq_w = ''f'' then ' || no_event || E' end if;\n';
    end if;
    -- the encoder inserts the event itself (the queue is the trigger's first argument), so the
    -- row's fields never travel back to the trigger through an array; the queue's own insert
    -- function when it has one (pgq._trigger_queue_insert), which skips the partition routing
    return code || ind || '_pgq_id := ' || i_insert_fn || '(' || quote_literal(i_args[1])
           || case when need_r then ', _pgq_t, _pgq_d, _pgq_e1' else ', ' || t_expr || ', _pgq_d, ' || quote_literal(tbl_name) end
           || E', _pgq_e2, _pgq_e3, _pgq_e4);\n'
           || ind || case when i_before then 'return array[null, null, null, null, null, null, ''d'', ' || skip_lit || ']::text[];'
                          else 'return null;' end || E'\n';
end;
$$;
