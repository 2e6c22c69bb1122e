-- pgq._urlenc_nonascii(i_str text) returns text
--
-- The second half of the C triggers' URL-encoding: every character outside printable ASCII
-- (non-ASCII characters, control characters) becomes its bytes in the database encoding as
-- %xx (lowercase hex); printable ASCII is left as it is. Applied after pgq._urlenc_ascii
-- (which has encoded the ASCII specials and the space), to a value (pgq._urlenc_slow) or to a
-- whole urlencoded row (the generated logutriga encoders: the row's separators and %xx are
-- printable ASCII, so they pass through). NULL in, NULL out.
-- One replace() per distinct such character (a row of European text has a few), which costs a
-- few microseconds where splitting the string into runs (regexp_matches) cost ~30; past 16
-- distinct characters (CJK text, say) the rest is split into runs after all.
create or replace function pgq._urlenc_nonascii(i_str text)
returns text
language plpgsql
immutable strict
as $$
declare
    s text := i_str;
    c text;
    h text;
begin
    for i in 1 .. 16 loop
        c := pg_catalog.substring(s, '[^ -~]');
        if c is null then
            return s;
        end if;
        -- a character is at most 4 bytes in every server encoding
        h := pg_catalog.encode(pg_catalog.convert_to(c, pg_catalog.getdatabaseencoding()), 'hex');
        s := pg_catalog.replace(s, c, pg_catalog.regexp_replace(h, '(..)', E'%\\1', 'g'));
    end loop;
    if s operator(pg_catalog.!~) '[^ -~]' then
        return s;
    end if;
    return (select coalesce(pg_catalog.string_agg(
                       case when m[1] is not null then m[1]
                            else pg_catalog.regexp_replace(
                                     pg_catalog.encode(pg_catalog.convert_to(m[2], pg_catalog.getdatabaseencoding()), 'hex'),
                                     '(..)', E'%\\1', 'g')
                       end, ''), '')
              from pg_catalog.regexp_matches(s, '([ -~]+)|([^ -~]+)', 'g') as m);
end;
$$;
