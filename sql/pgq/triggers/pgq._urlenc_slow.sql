-- pgq._urlenc_slow(i_str text) returns text
--
-- URL-encodes a string the way PgQ's C triggers do: bytes [A-Za-z0-9_.-] are kept, space
-- becomes '+', every other byte (of the database encoding) becomes %xx with lowercase hex.
-- pgq._urlenc_ascii does the ASCII part; what is left outside printable ASCII (non-ASCII
-- characters, control characters other than tab/newline/CR) is encoded here, one run of such
-- characters at a time. Used by pgq._urlenc for strings that need escaping; NULL in, NULL out.
create or replace function pgq._urlenc_slow(i_str text)
returns text
language plpgsql
immutable strict
as $$
declare
    s text := pgq._urlenc_ascii(i_str);
begin
    if s operator(pg_catalog.!~) '[^ -~]' then
        return s;
    end if;
    return (select coalesce(pg_catalog.string_agg(
                       case when m[1] is not null then m[1]
                            else pg_catalog.regexp_replace(
                                     pg_catalog.encode(pg_catalog.convert_to(m[2], pg_catalog.getdatabaseencoding()), 'hex'),
                                     '(..)', '%\1', 'g')
                       end, ''), '')
              from pg_catalog.regexp_matches(s, '([ -~]+)|([^ -~]+)', 'g') as m);
end;
$$;
