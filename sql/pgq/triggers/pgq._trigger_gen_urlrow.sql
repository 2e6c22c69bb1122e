-- pgq._trigger_gen_urlrow(i_rec text, i_cols text[], i_types oid[], i_skip boolean[], i_exact boolean) returns text
--
-- Code generation: text expression giving the urlencoded row of record variable i_rec, as
-- logutriga's ev_data:  col=value&col2=value2  with NULL written as the bare column name;
-- columns flagged in i_skip are left out. One concat() (pgq._trigger_gen_concat).
-- i_exact true: every value is encoded exactly (integer, numeric, uuid and boolean output
-- needs no escaping, floats only their '+', the rest goes through pgq._urlenc).
-- i_exact false: the optimistic form, per type what its output can contain under the usual
-- settings (dates and times: ':', '+', '/', ' '; bytea hex: '\'; text: pgq._urlenc_opt;
-- others: pgq._urlenc_ascii); a value with anything else (non-ASCII text, an exotic DateStyle
-- or bytea_output) leaves a character outside [-A-Za-z0-9_.%+&=] in the result, and the
-- generated encoder then falls back to the exact form (see pgq._trigger_gen_branch).
drop function if exists pgq._trigger_gen_urlrow(text, text[], oid[], boolean[]);
create or replace function pgq._trigger_gen_urlrow(i_rec text, i_cols text[], i_types oid[], i_skip boolean[], i_exact boolean)
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
                      when i_exact then 'pgq._urlenc(' || v.o || ')'
                      when b.base in (1082, 1083, 1114, 1184, 1266) then
                          'pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(' || v.o
                          || ', ''+'', ''%2b''), '':'', ''%3a''), ''/'', ''%2f''), '' '', ''+'')'
                      when b.base = 17 then 'pg_catalog.replace(' || v.o || ', ''\'', ''%5c'')'
                      when b.base in (25, 1043, 1042, 19) then 'pgq._urlenc_opt(' || v.o || ')'
                      else 'pgq._urlenc_ascii(' || v.o || ')' end)) as a(k, arg);
$$;
