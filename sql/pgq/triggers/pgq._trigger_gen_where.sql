-- pgq._trigger_gen_where(i_rec text, i_cols text[], i_types oid[], i_is_pk boolean[]) returns text
--
-- Code generation for sqltriga: text expression  pk1='v1' and pk2='v2'  over the key columns of
-- record variable i_rec, in table column order.
create or replace function pgq._trigger_gen_where(i_rec text, i_cols text[], i_types oid[], i_is_pk boolean[])
returns text
language sql
stable
as $$
    select coalesce(pg_catalog.string_agg(pgq._trigger_gen_keyeq(i_rec, c.col, c.typ), ' || '' and '' || ' order by c.ord), '''''')
      from unnest(i_cols, i_types, i_is_pk) with ordinality as c(col, typ, pk, ord)
     where c.pk;
$$;
