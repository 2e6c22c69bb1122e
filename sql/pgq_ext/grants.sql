-- Privileges, as in pgq_ext 3: everyone may call version(); pgq_writer (the role consumers
-- that write into this database run as) may call the rest. The tables are reached only
-- through the security definer functions. Role grants are skipped when pgq_writer does not
-- exist (installer without CREATEROLE and no pgq roles).
do $grants$
declare
    v_fns text := 'pgq_ext.upgrade_schema(), '
        || 'pgq_ext.is_batch_done(text, text, bigint), pgq_ext.is_batch_done(text, bigint), '
        || 'pgq_ext.set_batch_done(text, text, bigint), pgq_ext.set_batch_done(text, bigint), '
        || 'pgq_ext.is_event_done(text, text, bigint, bigint), pgq_ext.is_event_done(text, bigint, bigint), '
        || 'pgq_ext.set_event_done(text, text, bigint, bigint), pgq_ext.set_event_done(text, bigint, bigint), '
        || 'pgq_ext.get_last_tick(text, text), pgq_ext.get_last_tick(text), '
        || 'pgq_ext.set_last_tick(text, text, bigint), pgq_ext.set_last_tick(text, bigint)';
begin
    execute 'revoke all on function ' || v_fns || ' from public';
    grant execute on function pgq_ext.version() to public;
    revoke all on table pgq_ext.completed_tick, pgq_ext.completed_batch, pgq_ext.completed_event,
                        pgq_ext.partial_batch from public;
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_writer') then
        execute 'grant execute on function ' || v_fns || ' to pgq_writer';
    end if;
end
$grants$;
