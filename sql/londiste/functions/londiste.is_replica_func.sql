-- londiste.is_replica_func(func_oid oid) returns boolean
--
-- True when func_oid is one of pgq's event triggers (pgq.sqltriga, pgq.logutriga,
-- pgq.jsontriga, a table's own logutriga pgq._tgrow_<relid>): those take the queue name as
-- their first argument, which is how londiste finds its own triggers on a table. Strict. Tables: pg_catalog.pg_proc (read).
create or replace function londiste.is_replica_func(func_oid oid)
returns boolean
language sql
strict
stable
as $$
    select exists (
        select 1
          from pg_catalog.pg_proc f
          join pg_catalog.pg_namespace n on n.oid = f.pronamespace
         where f.oid = func_oid
           and n.nspname = 'pgq'
           and (f.proname in ('sqltriga', 'logutriga', 'jsontriga') or f.proname ~ '^_tgrow_[0-9]+$'));
$$;
