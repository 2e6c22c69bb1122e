-- pgq._urlenc_nonascii(i_str text) returns text
--
-- The second half of the C triggers' URL-encoding: every character outside printable ASCII
-- (non-ASCII characters, control characters) becomes its bytes in the database encoding as
-- %xx (lowercase hex), one run of such characters at a time; printable ASCII is left as it
-- is. Applied after pgq._urlenc_ascii (which has encoded the ASCII specials and the space), to
-- a value (pgq._urlenc_slow) or to a whole urlencoded row (the generated logutriga encoders:
-- the row's separators and %xx are printable ASCII, so they pass through). NULL in, NULL out.
create or replace function pgq._urlenc_nonascii(i_str text)
returns text
language plpgsql
immutable strict
as $$
begin
    if i_str operator(pg_catalog.!~) '[^ -~]' then
        return i_str;
    end if;
    return (select coalesce(pg_catalog.string_agg(
                       case when m[1] is not null then m[1]
                            else pg_catalog.regexp_replace(
                                     pg_catalog.encode(pg_catalog.convert_to(m[2], pg_catalog.getdatabaseencoding()), 'hex'),
                                     '(..)', '%\1', 'g')
                       end, ''), '')
              from pg_catalog.regexp_matches(i_str, '([ -~]+)|([^ -~]+)', 'g') as m);
end;
$$;
