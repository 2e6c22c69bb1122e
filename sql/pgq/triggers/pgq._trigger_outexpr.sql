-- pgq._trigger_outexpr(i_expr text, i_type oid) returns text
--
-- Code generation helper: returns SQL text that turns the value of expression i_expr (of type
-- i_type) into the text its type's output function gives (what the C triggers see through
-- SPI_getvalue). A plain ::text cast is used where that is the output function (I/O coercion
-- or binary relabel); types whose cast to text is a function that differs from their output
-- (boolean, bpchar, inet, ...) get textin(<typoutput>(value)). NULL stays NULL.
create or replace function pgq._trigger_outexpr(i_expr text, i_type oid)
returns text
language plpgsql
stable
as $$
declare
    base oid := i_type;
    next_base oid;
    out_fn text;
begin
    if i_type = 'pg_catalog.text'::pg_catalog.regtype then
        return i_expr;
    end if;
    -- domains: casts are looked up on the base type
    loop
        next_base := null;
        select t.typbasetype into next_base from pg_catalog.pg_type t where t.oid = base and t.typtype = 'd';
        exit when next_base is null;
        base := next_base;
    end loop;
    if exists (select 1 from pg_catalog.pg_cast c
                where c.castsource = base and c.casttarget = 'pg_catalog.text'::pg_catalog.regtype
                  and c.castmethod = 'f') then
        select pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) into out_fn
          from pg_catalog.pg_type t
          join pg_catalog.pg_proc p on p.oid = t.typoutput
          join pg_catalog.pg_namespace n on n.oid = p.pronamespace
         where t.oid = i_type;
        return pg_catalog.format('pg_catalog.textin(%s(%s))', out_fn, i_expr);
    end if;
    return pg_catalog.format('(%s)::pg_catalog.text', i_expr);
end;
$$;
