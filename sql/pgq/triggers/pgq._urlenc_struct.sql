-- pgq._urlenc_struct(i_str text) returns text
--
-- URL-encoding of a structured value (json, jsonb, arrays of text, types without a rule of
-- their own) in the generated logutriga encoders. Such output is mostly letters and digits
-- between the structure's own characters { } [ ] : , " and spaces: one regex test lets such a
-- value through eight replace() calls; anything else (other specials, characters outside
-- printable ASCII) goes to pgq._urlenc_call. Before, every such value went through all 33 calls
-- of pgq._urlenc_ascii, the biggest part of a wide row's encoding. Inlinable (the argument is
-- then computed twice: an output function costs less than the 25 calls saved); NULL in, NULL out.
-- The bracket expression: ']' first and '-' last are literal; ':' before '[' so that no "[:"
-- starts a character class.
create or replace function pgq._urlenc_struct(i_str text)
returns text
language sql
immutable
as $$
    select case when (i_str collate "C") operator(pg_catalog.!~) '[^]A-Za-z0-9_. {}:,"[-]'
                then pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                         i_str collate "C", '"', '%22'), ',', '%2c'), ':', '%3a'), '[', '%5b'), ']', '%5d'), '{', '%7b'), '}', '%7d'), ' ', '+')
                else pgq._urlenc_call(i_str) end;
$$;
