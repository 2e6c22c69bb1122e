-- Privileges, as in PgQ 3.5: public may look, pgq_reader consumes, pgq_writer produces,
-- pgq_admin (member of both) runs the ticker and administers queues. Skipped when the roles
-- do not exist (installer without CREATEROLE).
grant usage on schema pgq to public;

do $grants$
declare
    reader_fns text := 'pgq.batch_event_sql(bigint), pgq.batch_event_tables(bigint), '
        || 'pgq.find_tick_helper(int4, int8, timestamptz, int8, int8, interval), '
        || 'pgq.register_consumer(text, text), pgq.register_consumer_at(text, text, bigint), '
        || 'pgq.unregister_consumer(text, text), pgq.next_batch_info(text, text), pgq.next_batch(text, text), '
        || 'pgq.next_batch_custom(text, text, interval, int4, interval), pgq.get_batch_events(bigint), '
        || 'pgq.get_batch_info(bigint), pgq.get_batch_cursor(bigint, text, int4, text), '
        || 'pgq.get_batch_cursor(bigint, text, int4), pgq.event_retry(bigint, bigint, timestamptz), '
        || 'pgq.event_retry(bigint, bigint, integer), pgq.batch_retry(bigint, integer), '
        || 'pgq.force_tick(text), pgq.finish_batch(bigint)';
    writer_fns text := 'pgq.insert_event(text, text, text), '
        || 'pgq.insert_event(text, text, text, text, text, text, text), pgq.current_event_table(text), '
        || 'pgq.insert_event_bulk(text, text[], text[], text[], text[], text[], text[]), '
        || 'pgq.insert_event_bulk(text, text, text[])';
    admin_fns text := 'pgq.ticker(text, bigint, timestamptz, bigint), pgq.ticker(text), pgq.ticker(), '
        || 'pgq.ticker_poll(text[], integer), pgq._ticker_due(text[], boolean), pgq._tick_now(integer, bigint), '
        || 'pgq.maint_retry_events(), pgq.maint_rotate_tables_step1(text), pgq.maint_rotate_tables_step2(), '
        || 'pgq.maint_tables_to_vacuum(), pgq.maint_operations(), pgq.upgrade_schema(), pgq.grant_perms(text), '
        || 'pgq._grant_perms_from(text, text, text, text), pgq.tune_storage(text), pgq.seq_setval(text, int8), '
        || 'pgq.create_queue(text), pgq.drop_queue(text, bool), pgq.drop_queue(text), '
        || 'pgq.set_queue_config(text, text, text), pgq._subscription_write(), '
        || 'pgq.insert_event_raw(text, bigint, timestamptz, integer, integer, text, text, text, text, text, text), '
        || 'pgq.event_retry_raw(text, text, timestamptz, bigint, timestamptz, integer, text, text, text, text, text, text)';
    trigger_fns text;
    have_roles boolean;
begin
    select count(*) = 3 into have_roles from pg_roles where rolname in ('pgq_reader', 'pgq_writer', 'pgq_admin');
    -- Trigger functions are listed from the catalog so this file does not repeat their names.
    select string_agg(p.oid::regprocedure::text, ', ') into trigger_fns
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'pgq' and p.proname in ('logutriga', 'sqltriga', 'jsontriga', '_trigger_rowfn');

    execute 'revoke all on function ' || reader_fns || ', ' || writer_fns || ', ' || admin_fns || ' from public';
    if trigger_fns is not null then
        execute 'revoke all on function ' || trigger_fns || ' from public';
    end if;
    revoke all on table pgq.consumer, pgq.queue, pgq.tick, pgq.subscription, pgq.retry_queue,
                        pgq.event_template, pgq.event_all,
                        pgq.subscription_key, pgq.subscription_state, pgq._open_batch from public;
    -- The tables behind pgq.subscription are as readable as the view (functions that are not
    -- security definer read them).
    grant select on table pgq.consumer, pgq.queue, pgq.tick, pgq.subscription,
                          pgq.subscription_key, pgq.subscription_state, pgq._open_batch to public;
    if not have_roles then
        return;
    end if;
    execute 'grant execute on function ' || reader_fns || ' to pgq_reader';
    execute 'grant execute on function ' || writer_fns || ' to pgq_writer';
    execute 'grant execute on function ' || admin_fns || ' to pgq_admin';
    if trigger_fns is not null then
        execute 'grant execute on function ' || trigger_fns || ' to pgq_writer';
    end if;
    grant select on table pgq.event_template to pgq_reader;
    grant select, insert, truncate on table pgq.event_template to pgq_admin;
    grant select, insert, update, delete on table pgq.consumer, pgq.queue, pgq.tick, pgq.subscription to pgq_admin;
    grant select, insert, update, delete on table pgq.retry_queue to pgq_admin;
    grant select, insert, truncate on table pgq.event_all to pgq_admin;
end
$grants$;
