-- pgq._trigger_gen_jsonrow(i_rec text, i_cols text[], i_types oid[], i_skip boolean[]) returns text
--
-- Code generation: text expression giving jsontriga's ev_data for record variable i_rec:
-- {"col":value,...} without spaces, in column order, skipped columns left out. By the column's
-- exact type (domains are not looked through, as in C): boolean -> true/false; int2, int4,
-- int8 -> number; timestamp, timestamptz, date -> to_json's ISO form; anything else -> the
-- output text as a JSON string; NULL -> null. One concat() (pgq._trigger_gen_concat).
create or replace function pgq._trigger_gen_jsonrow(i_rec text, i_cols text[], i_types oid[], i_skip boolean[])
returns text
language sql
stable
as $$
    select pgq._trigger_gen_concat(null, array['''{''']
               || coalesce(pg_catalog.array_agg(a.arg order by c.ord, a.k), '{}') || array['''}'''])
      from (select u.col, u.typ, u.ord, pg_catalog.row_number() over (order by u.ord) as rn
              from unnest(i_cols, i_types, i_skip) with ordinality as u(col, typ, skip, ord)
             where not u.skip) as c
      cross join lateral (select i_rec || '.' || pg_catalog.quote_ident(c.col) as ref) as v
      cross join lateral (values
          (1, pg_catalog.quote_literal(case when c.rn = 1 then '' else ',' end || pg_catalog.to_json(c.col)::text || ':')),
          (2, 'coalesce('
              || case when c.typ = 16 then pg_catalog.format('case %s when true then ''true'' when false then ''false'' end', v.ref)
                      when c.typ in (1114, 1184, 1082) then pg_catalog.format('pg_catalog.to_json(%s)::pg_catalog.text', v.ref)
                      when c.typ in (20, 21, 23) then pg_catalog.format('(%s)::pg_catalog.text', v.ref)
                      else pg_catalog.format('pg_catalog.to_json(%s)::pg_catalog.text', pgq._trigger_outexpr(v.ref, c.typ)) end
              || ', ''null'')')) as a(k, arg);
$$;
