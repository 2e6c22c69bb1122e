-- pgq._trigger_gen_case(i_rels oid[], i_fns text[], i_lo int, i_hi int) returns text
--
-- Code generation for pgq._trigger_gen_dispatcher: a CASE expression over i_relid choosing the
-- encoder of i_rels[i_lo..i_hi] (sorted); ranges longer than 8 are split in halves. An unknown
-- oid yields the "no encoder" marker array (element 7 = '?').
create or replace function pgq._trigger_gen_case(i_rels oid[], i_fns text[], i_lo int, i_hi int)
returns text
language plpgsql
immutable
as $$
declare
    mid int;
    res text := 'case i_relid';
begin
    if i_hi < i_lo then
        return 'array[null, null, null, null, null, null, ''?'', null]::text[]';
    end if;
    if i_hi - i_lo >= 8 then
        mid := (i_lo + i_hi) / 2;
        return format('case when i_relid <= %s then %s else %s end', i_rels[mid]::int8,
                      pgq._trigger_gen_case(i_rels, i_fns, i_lo, mid),
                      pgq._trigger_gen_case(i_rels, i_fns, mid + 1, i_hi));
    end if;
    for i in i_lo .. i_hi loop
        res := res || format(' when %s then %s(i_tg, i_op, i_new, i_old)', i_rels[i]::int8, i_fns[i]);
    end loop;
    return res || ' else array[null, null, null, null, null, null, ''?'', null]::text[] end';
end;
$$;
