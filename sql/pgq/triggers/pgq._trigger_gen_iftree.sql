-- pgq._trigger_gen_iftree(i_rels oid[], i_fns text[], i_lo int, i_hi int, i_ind text) returns text
--
-- Code generation for pgq._trigger_gen_dispatcher when many tables have encoders: PL/pgSQL
-- statements that choose the encoder of i_rels[i_lo..i_hi] (sorted) by nested IFs on i_relid
-- (halves while more than 4 remain, then one IF per table) and return its result. Unlike the
-- CASE of pgq._trigger_gen_case, a row only sets up the comparisons on its own path and the one
-- call it makes, not a call per table: PostgreSQL prepares every branch of an expression in every
-- transaction (an ACL check and a function lookup each, ~6,500 instructions per table).
create or replace function pgq._trigger_gen_iftree(i_rels oid[], i_fns text[], i_lo int, i_hi int, i_ind text)
returns text
language plpgsql
immutable
as $$
declare
    mid int;
    res text := '';
begin
    if i_hi < i_lo then
        return '';
    end if;
    if i_hi - i_lo >= 4 then
        mid := (i_lo + i_hi) / 2;
        return format(E'%sif i_relid <= %s then\n%s%selse\n%s%send if;\n', i_ind, i_rels[mid]::int8,
                      pgq._trigger_gen_iftree(i_rels, i_fns, i_lo, mid, i_ind || '    '), i_ind,
                      pgq._trigger_gen_iftree(i_rels, i_fns, mid + 1, i_hi, i_ind || '    '), i_ind);
    end if;
    for i in i_lo .. i_hi loop
        res := res || format(E'%sif i_relid = %s then return %s(i_tg, i_op, i_new, i_old); end if;\n',
                             i_ind, i_rels[i]::int8, i_fns[i]);
    end loop;
    return res;
end;
$$;
