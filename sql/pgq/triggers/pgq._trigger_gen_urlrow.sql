-- pgq._trigger_gen_urlrow(i_rec text, i_cols text[], i_types oid[], i_skip boolean[]) returns text
--
-- Code generation: text expression giving the urlencoded row of record variable i_rec, as
-- logutriga's ev_data:  col=value&col2=value2  with NULL written as the bare column name;
-- columns flagged in i_skip are left out. Values of integer, numeric, uuid and boolean types
-- need no escaping; floats only their '+'; the rest goes through pgq._urlenc.
create or replace function pgq._trigger_gen_urlrow(i_rec text, i_cols text[], i_types oid[], i_skip boolean[])
returns text
language sql
stable
as $$
    select coalesce(pg_catalog.string_agg(
               case when c.rn = 1 then '' else '''&'' || ' end
               || pg_catalog.quote_literal(pgq._urlenc(c.col)) || ' || coalesce(''='' || '
               || case when b.base in (20, 21, 23, 26, 1700, 2950, 16) then pgq._trigger_outexpr(i_rec || '.' || pg_catalog.quote_ident(c.col), c.typ)
                       when b.base in (700, 701) then 'pg_catalog.replace(' || pgq._trigger_outexpr(i_rec || '.' || pg_catalog.quote_ident(c.col), c.typ) || ', ''+'', ''%2b'')'
                       else 'pgq._urlenc(' || pgq._trigger_outexpr(i_rec || '.' || pg_catalog.quote_ident(c.col), c.typ) || ')' end
               || ', '''')', ' || ' order by c.ord), '''''')
      from (select u.col, u.typ, u.ord, pg_catalog.row_number() over (order by u.ord) as rn
              from unnest(i_cols, i_types, i_skip) with ordinality as u(col, typ, skip, ord)
             where not u.skip) as c
      cross join lateral (select case when t.typtype = 'd' then t.typbasetype else t.oid end::int4 as base
                            from pg_catalog.pg_type t where t.oid = c.typ) as b;
$$;
