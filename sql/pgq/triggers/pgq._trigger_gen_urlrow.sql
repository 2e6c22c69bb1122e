-- pgq._trigger_gen_urlrow(i_rec text, i_cols text[], i_types oid[], i_skip boolean[]) returns text
--
-- Code generation: text expression giving the urlencoded row of record variable i_rec, as
-- logutriga's ev_data:  col=value&col2=value2  with NULL written as the bare column name;
-- columns flagged in i_skip are left out. One concat() (pgq._trigger_gen_concat), and per
-- value only the escaping its type's output can need: none for integers, numeric, uuid and
-- boolean; '+' for floats; ':', '+', '/' and ' ' for dates and times (every DateStyle);
-- pgq._urlenc_opt for text types, pgq._urlenc_ascii for the rest. The result has every ASCII
-- character encoded; characters outside ASCII are left as they are, for one
-- pgq._urlenc_nonascii pass over the whole row (see pgq._trigger_gen_urlassign).
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
      cross join lateral (select pgq._trigger_outexpr(i_rec || '.' || pg_catalog.quote_ident(c.col), c.typ) as o) as v
      cross join lateral (values
          (1, pg_catalog.quote_literal(case when c.rn = 1 then '' else '&' end || pgq._urlenc(c.col))),
          (2, '''='' || '
              || case when b.base in (20, 21, 23, 26, 1700, 2950, 16) then v.o
                      when b.base in (700, 701) then 'pg_catalog.replace(' || v.o || ', ''+'', ''%2b'')'
                      when b.base in (1082, 1083, 1114, 1184, 1266) then
                          'pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(' || v.o
                          || ', ''+'', ''%2b''), '':'', ''%3a''), ''/'', ''%2f''), '' '', ''+'')'
                      when b.base in (25, 1043, 1042, 19) then 'pgq._urlenc_opt(' || v.o || ')'
                      else 'pgq._urlenc_ascii(' || v.o || ')' end)) as a(k, arg);
$$;
