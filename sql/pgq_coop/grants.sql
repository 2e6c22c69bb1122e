-- Privileges as in pgq_coop: cooperative consumers run as pgq_reader; version() is public.
-- Role grants are skipped when the roles do not exist (installer without CREATEROLE).
grant usage on schema pgq_coop to public;

do $grants$
declare
    consumer_fns text := 'pgq_coop.register_subconsumer(text, text, text), '
        || 'pgq_coop.unregister_subconsumer(text, text, text, integer), '
        || 'pgq_coop.next_batch(text, text, text), '
        || 'pgq_coop.next_batch(text, text, text, interval), '
        || 'pgq_coop.next_batch_info(text, text, text), '
        || 'pgq_coop.next_batch_info(text, text, text, interval), '
        || 'pgq_coop.next_batch_custom(text, text, text, interval, int4, interval), '
        || 'pgq_coop.next_batch_custom(text, text, text, interval, int4, interval, interval), '
        || 'pgq_coop.finish_batch(bigint)';
begin
    execute 'revoke all on function ' || consumer_fns || ' from public';
    grant execute on function pgq_coop.version() to public;
    if (select count(*) from pg_catalog.pg_roles where rolname = 'pgq_reader') = 0 then
        return;
    end if;
    execute 'grant execute on function ' || consumer_fns || ' to pgq_reader';
end
$grants$;
