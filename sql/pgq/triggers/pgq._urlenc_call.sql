-- pgq._urlenc_call(i_str text) returns text
--
-- The whole URL-encoding of the C triggers (what pgq._urlenc_ascii, then pgq._urlenc_nonascii
-- give) behind a PL/pgSQL call, for the rare branch of the generated encoders' per-value tests
-- (pgq._urlenc_opt, pgq._urlenc_struct): a value with a character those tests do not let
-- through. Inlined into an encoder, the replace() calls would be set up (an ACL check each)
-- in every transaction for every such column, even when no value needed them; behind this
-- call they are set up once per transaction, and only when a value needs them. A value comes
-- out fully encoded, so the encoders need no pass over the whole row. NULL in, NULL out.
--
-- Cheaper than the two functions in a row (a value like `a & b = 50% ü` costs about half):
--   1. the specials usual in text (% & + = ' " \ , / : ; ( ) ? ! # @ and the space; '%' first,
--      the space after '+') in one chain of replace() calls;
--   2. one regex test for the rest of ASCII's specials and the control characters: only a
--      value with one of them takes their replace() calls and pgq._urlenc_nonascii (which
--      also encodes control characters);
--   3. otherwise what is left to encode is characters outside ASCII: none when the value is
--      as long in bytes as in characters (UTF-8, where every such character is 2-4 bytes);
--      else one regex search per distinct character, each replaced by its %xx bytes, until
--      the lengths agree (past 16 distinct characters, pgq._urlenc_nonascii). Databases in
--      other encodings take pgq._urlenc_nonascii.
create or replace function pgq._urlenc_call(i_str text)
returns text
language plpgsql
immutable strict
as $$
declare
    s text;
    c text;
    h text;
begin
    s := pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
             i_str collate "C", '%', '%25'), '&', '%26'), '+', '%2b'), '=', '%3d'), '''', '%27'), '"', '%22'), '\', '%5c'), ',', '%2c'), '/', '%2f'),
             ':', '%3a'), ';', '%3b'), '(', '%28'), ')', '%29'), '?', '%3f'), '!', '%21'), '#', '%23'), '@', '%40'), ' ', '+');
    -- ']' first in the bracket is literal, '^' not first is literal
    if (s collate "C") operator(pg_catalog.~) E'[]$*<>[^`{|}~\x01-\x1f\x7f]' then
        return pgq._urlenc_nonascii(
            pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                s, '$', '%24'), '*', '%2a'), '<', '%3c'), '>', '%3e'), '[', '%5b'), ']', '%5d'), '^', '%5e'), '`', '%60'), '{', '%7b'), '|', '%7c'), '}', '%7d'),
                '~', '%7e'), E'\t', '%09'), E'\n', '%0a'), E'\r', '%0d'));
    end if;
    if pg_catalog.octet_length(s) operator(pg_catalog.=) pg_catalog.length(s) then
        if pg_catalog.getdatabaseencoding() operator(pg_catalog.=) 'UTF8' then
            return s;
        end if;
        return pgq._urlenc_nonascii(s);
    end if;
    if pg_catalog.getdatabaseencoding() operator(pg_catalog.<>) 'UTF8' then
        return pgq._urlenc_nonascii(s);
    end if;
    for i in 1 .. 16 loop
        -- no control character is left: the first match is a character outside ASCII
        c := pg_catalog.substring(s collate "C", '[^ -~]');
        h := pg_catalog.encode(pg_catalog.convert_to(c, 'UTF8'), 'hex');
        s := pg_catalog.replace(s, c, pg_catalog.regexp_replace(h, '(..)', E'%\\1', 'g'));
        if pg_catalog.octet_length(s) operator(pg_catalog.=) pg_catalog.length(s) then
            return s;
        end if;
    end loop;
    return pgq._urlenc_nonascii(s);
end;
$$;
