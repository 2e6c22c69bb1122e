-- londiste.set_session_replication_role(val text, is_local bool) returns void
--
-- Sets session_replication_role to val ('origin', 'replica' or 'local'), for the transaction
-- when is_local, else for the session. Security definer so a replay worker that is not a
-- superuser may switch off ordinary triggers while it applies events.
-- Errors: any other val raises 'bad value for session_replication_role' (22023).
-- Tables: none.
create or replace function londiste.set_session_replication_role(val text, is_local bool)
returns void
language plpgsql
security definer
set search_path = pg_catalog, londiste
as $$
begin
    -- only the three known values reach set_config: the caller never chooses what runs here
    if val is null or val not in ('origin', 'replica', 'local') then
        raise exception 'bad value for session_replication_role' using errcode = '22023';
    end if;
    perform pg_catalog.set_config('session_replication_role', val, coalesce(is_local, false));
end;
$$;
