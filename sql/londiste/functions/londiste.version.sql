-- londiste.version() returns text
--
-- The londiste schema version this SQL implements. python3-londiste reads it to pick its API
-- (below 3.7 it uses the old calls), so it is the version whose contract we follow.
-- Returns '3.8'. Tables: none.
create or replace function londiste.version()
returns text
language sql
immutable
as $$
    select '3.8'::text;
$$;
