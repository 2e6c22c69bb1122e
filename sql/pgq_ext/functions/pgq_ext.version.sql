-- pgq_ext.version() returns text
--
-- API level of the pgq_ext schema: the functions and tables of pgq_ext in SkyTools 3.
-- Callable by everyone.
create or replace function pgq_ext.version()
returns text
language sql immutable
as $$
    select '3.0.0.3'::text;
$$;
