-- londiste.split_fqname(i_fqname text, out schema_part text, out name_part text)
--
-- Splits a table or sequence name at its first dot; a name without a dot is in 'public'.
-- Names are not unquoted: 'a.b.c' is schema 'a', name 'b.c'. NULL in, NULL out (strict).
-- Tables: none.
create or replace function londiste.split_fqname(
    in i_fqname text,
    out schema_part text,
    out name_part text)
returns record
language plpgsql
strict
immutable
as $$
declare
    dot int4 := position('.' in i_fqname);
begin
    if dot = 0 then
        schema_part := 'public';
        name_part := i_fqname;
    else
        schema_part := substr(i_fqname, 1, dot - 1);
        name_part := substr(i_fqname, dot + 1);
    end if;
end;
$$;
