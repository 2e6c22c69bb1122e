-- pgq_coop.version() returns text
--
-- API level of the pgq_coop schema (the pgq_coop extension version it matches).
create or replace function pgq_coop.version()
returns text
language sql immutable
as $$
    select '3.4'::text;
$$;
