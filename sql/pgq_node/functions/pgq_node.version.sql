-- pgq_node.version() returns text
--
-- API level of the pgq_node schema: '3.5', what the packaged extension 3.5 reports.
-- Tables: none. Errors: none.
create or replace function pgq_node.version()
returns text
language sql immutable
as $$
    select '3.5'::text;
$$;
