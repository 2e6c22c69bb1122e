-- pgq._queue_insert_sweep() returns integer
--
-- Drops the per-queue insert functions (pgq._queue_insert_<queue_id>, made by
-- pgq._trigger_queue_insert) of queues that no longer exist, once no generated encoder
-- (pgq._tgenc_<relid>) calls them any more; returns how many it dropped. Called by
-- pgq.drop_queue and after an encoder is regenerated, so that creating and dropping queues
-- under triggers does not leave one function per queue id behind. A function an encoder still
-- names is kept: that encoder falls back to pgq.insert_event through it (and reports the
-- missing queue as before) until its table's triggers are changed.
create or replace function pgq._queue_insert_sweep()
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    f record;
    n integer := 0;
begin
    for f in
        select p.oid::regprocedure as sig, p.proname
          from pg_proc p
         where p.pronamespace = 'pgq'::regnamespace
           and p.proname ~ '^_queue_insert_[0-9]+$'
           and not exists (select 1 from pgq.queue q
                            where q.queue_id::text = substr(p.proname, length('_queue_insert_') + 1))
           and not exists (select 1 from pg_proc e
                            where e.pronamespace = 'pgq'::regnamespace
                              and (e.proname like '\_tgenc\_%' or e.proname like '\_tgrow\_%')
                              and strpos(e.prosrc, 'pgq.' || p.proname || '(') > 0)
    loop
        execute format('drop function %s', f.sig);
        n := n + 1;
    end loop;
    return n;
end;
$$;
revoke all on function pgq._queue_insert_sweep() from public;
