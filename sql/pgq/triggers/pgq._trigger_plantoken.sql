-- pgq._trigger_plantoken() returns text
--
-- A value that is new every time it is computed. Declared IMMUTABLE on purpose: the planner
-- then computes it once, when it makes a plan, and stores it in the plan. The generated
-- encoders compute it (see pgq._trigger_prepare) in an expression that also holds the
-- table's regclass, so PostgreSQL's plan cache replans it, and a new token comes out, whenever
-- the table's definition may have changed: any ALTER TABLE, CREATE/DROP/RENAME of a trigger or
-- index, a schema change, a re-install of pgq (this function changes), or a
-- cache reset. The encoder compares it with the token the session saw last and the trigger runs
-- the full check (pgq._trigger_prepare) only when it differs — what lets a transaction skip
-- the catalog queries the C triggers avoid with their relcache callbacks.
create or replace function pgq._trigger_plantoken()
returns text
language plpgsql
immutable
as $$
begin
    return pg_catalog.concat(pg_catalog.clock_timestamp(), ' ', pg_catalog.random());
end;
$$;
