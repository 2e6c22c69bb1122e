-- pgq._trigger_gen_urlrow(i_rec text, i_cols text[], i_types oid[], i_skip boolean[]) returns text
--
-- Code generation: text expression giving the urlencoded row of record variable i_rec, as
-- logutriga's ev_data:  col=value&col2=value2  with NULL written as the bare column name;
-- columns flagged in i_skip are left out. One concat() (pgq._trigger_gen_concat) with one
-- argument per column, coalesce('&col=' || value, '&col'), and per
-- value only the escaping its type's output can need: none for integers, numeric, uuid and
-- boolean; '+' for floats; of ':', '+', '/' and ' ' those a date/time type can print (every
-- DateStyle);
-- pgq._urlenc_opt for text types; seven characters for arrays of numbers and booleans (eight
-- for floats: the exponent's '+'); '\'
-- for bytea in hex output; pgq._urlenc_struct (a test, then eight replace() calls for the
-- usual json/array value) for the rest. Every value comes out fully encoded: the types with
-- a fixed rule only ever print ASCII, and the tests of the others send any character outside
-- printable ASCII to pgq._urlenc_call. Every operator in the expression is schema-qualified
-- (the tables' own logutrigas run it as security definer: see pgq._trigger_gen_rowfast).
drop function if exists pgq._trigger_gen_urlrow(text, text[], oid[], boolean[], boolean);
create or replace function pgq._trigger_gen_urlrow(i_rec text, i_cols text[], i_types oid[], i_skip boolean[])
returns text
language sql
stable
as $$
    select pgq._trigger_gen_concat(null, coalesce(pg_catalog.array_agg(a.arg order by c.ord, a.k), '{}'))
      from (select u.col, u.typ, u.ord, pg_catalog.row_number() over (order by u.ord) as rn
              from unnest(i_cols, i_types, i_skip) with ordinality as u(col, typ, skip, ord)
             where not u.skip) as c
      cross join lateral (select case when t.typtype = 'd' then t.typbasetype else t.oid end::int4 as base
                            from pg_catalog.pg_type t where t.oid = c.typ) as b
      -- the element type of an array (its base type when a domain), else null
      cross join lateral (select (select case when e.typtype = 'd' then e.typbasetype else e.oid end::int4
                                    from pg_catalog.pg_type a join pg_catalog.pg_type e on e.oid = a.typelem
                                   where a.oid = b.base and a.typcategory = 'A') as elem) as ae
      -- o: the value's text; oc: the same in collation "C", so that replace() skips the locale
      -- look-ups of its set-up (byte-wise either way for a deterministic collation)
      cross join lateral (select pgq._trigger_outexpr(i_rec || '.' || pgq._trigger_field(c.col), c.typ) as o) as v0
      cross join lateral (select v0.o, '(' || v0.o || ') collate pg_catalog."C"' as oc) as v
      cross join lateral (select case when c.rn = 1 then '' else '&' end || pgq._urlenc(c.col) as name) as nm
      -- one argument per column: coalesce('&col=' || value, '&col'), NULL giving the bare name
      -- (concat's cost is per argument: a type output look-up, a call and a copy each)
      cross join lateral (values
          (1, 'coalesce(' || pg_catalog.quote_literal(nm.name || '=') || ' operator(pg_catalog.||) '
              || case when b.base in (20, 21, 23, 26, 1700, 2950, 16) then v.o
                      when b.base in (700, 701) then 'pg_catalog.replace(' || v.oc || ', ''+'', ''%2b'')'
                      -- what each date/time type can print in any DateStyle: date '/' and ' '
                      -- (SQL style, BC); time ':'; timetz ':' '+'; timestamp ':' '/' ' ';
                      -- timestamptz all four
                      when b.base = 1082 then
                          'pg_catalog.replace(pg_catalog.replace(' || v.oc || ', ''/'', ''%2f''), '' '', ''+'')'
                      when b.base = 1083 then 'pg_catalog.replace(' || v.oc || ', '':'', ''%3a'')'
                      when b.base = 1266 then
                          'pg_catalog.replace(pg_catalog.replace(' || v.oc || ', ''+'', ''%2b''), '':'', ''%3a'')'
                      when b.base = 1114 then
                          'pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(' || v.oc
                          || ', '':'', ''%3a''), ''/'', ''%2f''), '' '', ''+'')'
                      when b.base = 1184 then
                          'pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(' || v.oc
                          || ', ''+'', ''%2b''), '':'', ''%3a''), ''/'', ''%2f''), '' '', ''+'')'
                      when b.base in (25, 1043, 1042, 19) then 'pgq._urlenc_opt(' || v.o || ')'
                      -- arrays of numbers and booleans: braces, commas and the bounds decoration
                      -- ([1:2]=) are all their output can hold, and a float's exponent sign
                      when ae.elem in (20, 21, 23, 26, 1700, 700, 701, 16) then
                          'pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace('
                          || case when ae.elem in (700, 701) then 'pg_catalog.replace(' || v.oc || ', ''+'', ''%2b'')' else v.oc end
                          || ', '','', ''%2c''), '':'', ''%3a''), ''='', ''%3d''), ''['', ''%5b''), '']'', ''%5d''), ''{'', ''%7b''), ''}'', ''%7d'')'
                      -- bytea in hex output is \x and hex digits; the escape output can hold anything
                      when b.base = 17 then
                          'case when pg_catalog.current_setting(''bytea_output'') operator(pg_catalog.=) ''hex'' then pg_catalog.replace('
                          || v.oc || ', ''\'', ''%5c'') else pgq._urlenc_call(' || v.o || ') end'
                      else 'pgq._urlenc_struct(' || v.o || ')' end
              || ', ' || pg_catalog.quote_literal(nm.name) || ')')) as a(k, arg);
$$;
