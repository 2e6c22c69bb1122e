-- pgq._trigger_gen_concat(i_sep text, i_args text[]) returns text
--
-- Code generation: one text expression joining the expressions i_args. i_sep NULL:
-- pg_catalog.concat(...) (a NULL argument adds nothing); i_sep a string: pg_catalog.concat_ws
-- with that separator (NULL arguments are left out, with their separator). One call copies
-- each piece once, where a chain of || copies the growing string at every step. A function
-- call takes at most 100 arguments, so longer lists are split into nested calls (for
-- concat_ws, an empty group becomes NULL so that it adds no separator). No arguments: ''.
create or replace function pgq._trigger_gen_concat(i_sep text, i_args text[])
returns text
language plpgsql
immutable
as $$
declare
    n int := coalesce(cardinality(i_args), 0);
    chunk int := 90;
    parts text[] := '{}';
    head text := case when i_sep is null then 'pg_catalog.concat(' else 'pg_catalog.concat_ws(' || pg_catalog.quote_literal(i_sep) || ', ' end;
begin
    if n = 0 then
        return '''''';
    elsif n <= chunk then
        return head || pg_catalog.array_to_string(i_args, ', ') || ')';
    end if;
    for i in 0 .. (n - 1) / chunk loop
        parts := parts || case when i_sep is null then pgq._trigger_gen_concat(null, i_args[i * chunk + 1 : (i + 1) * chunk])
                               else 'nullif(' || pgq._trigger_gen_concat(i_sep, i_args[i * chunk + 1 : (i + 1) * chunk]) || ', '''')' end;
    end loop;
    return pgq._trigger_gen_concat(i_sep, parts);
end;
$$;
