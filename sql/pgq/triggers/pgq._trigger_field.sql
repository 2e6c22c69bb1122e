-- pgq._trigger_field(i_col text) returns text
--
-- A record field reference for generated PL/pgSQL (`_pgq_n.<this>`): the column name always in
-- double quotes. quote_ident() leaves unreserved keywords bare (`by`, `select` is quoted but `by`
-- is not), and PL/pgSQL then fails to parse `_pgq_n.by`; a quoted name never clashes.
create or replace function pgq._trigger_field(i_col text)
returns text
language sql
immutable strict
as $$
    select '"' || pg_catalog.replace(i_col, '"', '""') || '"';
$$;
