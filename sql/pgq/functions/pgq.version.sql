-- pgq.version() returns text
--
-- PgQ API level of this schema. Clients (pgqd among them) check that it starts with "3.".
-- Which implementation is installed is told by pgq.skytools_version().
create or replace function pgq.version()
returns text
language sql immutable
as $$
    select '3.5.1'::text;
$$;

-- pgq.skytools_version() returns text
--
-- Version of the skytools SQL implementation (pure SQL/PL/pgSQL) installed in this database.
create or replace function pgq.skytools_version()
returns text
language sql immutable
as $$
    select '0.1.0'::text;
$$;
