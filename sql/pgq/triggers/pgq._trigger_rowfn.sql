-- pgq._trigger_rowfn(i_relid oid) returns text
--
-- The name of table i_relid's own logutriga, pgq._tgrow_<relid>(), created here when missing:
--   create trigger t after insert or update or delete on tbl
--       for each row execute procedure pgq._tgrow_<relid>('queue' [, option ...]);
-- takes pgq.logutriga's arguments and writes pgq.logutriga's events, byte for byte, for about
-- a quarter less of the trigger's cost per row (one PL/pgSQL call per event instead of three:
-- see pgq._trigger_gen_rowfn). Londiste's create_trigger uses it for its AFTER row triggers.
-- It starts as pgq.logutriga's body; pgq._trigger_prepare(relid) generates the table's own code
-- into it (and again whenever the table or its triggers change): call it once the trigger
-- exists, or the first row does it through pgq.logutriga's path (which wants EXECUTE on
-- pgq.insert_event from that row's writer).
-- Only for a table (or partitioned table) that exists. Security definer (creates a function in
-- schema pgq); the function itself is security invoker with pgq.logutriga's EXECUTE privileges,
-- and this one is granted as pgq.logutriga is (grants.sql).
create or replace function pgq._trigger_rowfn(i_relid oid)
returns text
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    fn text := 'pgq._tgrow_' || i_relid;
begin
    if not exists (select 1 from pg_class c where c.oid = i_relid and c.relkind in ('r', 'p')) then
        raise exception 'pgq trigger: table % not found', i_relid using errcode = 'PQ020';
    end if;
    if to_regprocedure(fn || '()') is null then
        perform pg_advisory_xact_lock(hashtext('pgq._trigger_prepare'), i_relid::int4);
        if to_regprocedure(fn || '()') is null then
            execute format('create function %s() returns trigger language plpgsql as %L', fn,
                           (select p.prosrc from pg_proc p where p.oid = 'pgq.logutriga()'::regprocedure));
            perform pgq._trigger_copy_acl('pgq.logutriga()'::regprocedure, (fn || '()')::regprocedure);
        end if;
    end if;
    return fn;
end;
$$;
revoke all on function pgq._trigger_rowfn(oid) from public;
