-- Privileges as in pgq_node 3.5: anyone may ask a node's type; cascaded consumers (pgq_writer)
-- keep their state; pgq_reader / pgq_writer may read the node map and register as
-- subscribers (the remote calls a worker makes on its provider); pgq_admin runs workers and
-- administers the cascade. Role grants are skipped when the roles do not exist (installer
-- without CREATEROLE).
grant usage on schema pgq_node to public;

do $grants$
declare
    public_fns text := 'pgq_node.is_root_node(text), pgq_node.is_leaf_node(text), pgq_node.version()';
    consumer_fns text := 'pgq_node.register_consumer(text, text, text, int8), '
        || 'pgq_node.unregister_consumer(text, text), '
        || 'pgq_node.change_consumer_provider(text, text, text), '
        || 'pgq_node.set_consumer_uptodate(text, text, boolean), '
        || 'pgq_node.set_consumer_paused(text, text, boolean), '
        || 'pgq_node.set_consumer_completed(text, text, int8), '
        || 'pgq_node.set_consumer_error(text, text, text)';
    worker_fns text := 'pgq_node.create_node(text, text, text, text, text, bigint, text), '
        || 'pgq_node.drop_node(text, text), pgq_node.demote_root(text, int4, text), '
        || 'pgq_node.promote_branch(text), pgq_node.set_node_attrs(text, text), '
        || 'pgq_node.get_worker_state(text), pgq_node.set_global_watermark(text, bigint), '
        || 'pgq_node.set_partition_watermark(text, text, bigint)';
    admin_fns text := 'pgq_node.register_location(text, text, text, boolean), '
        || 'pgq_node.unregister_location(text, text), pgq_node.upgrade_schema(), '
        || 'pgq_node.maint_watermark(text)';
    remote_fns text := 'pgq_node.get_consumer_info(text), pgq_node.get_consumer_state(text, text), '
        || 'pgq_node.get_queue_locations(text), pgq_node.get_node_info(text), '
        || 'pgq_node.get_subscriber_info(text), '
        || 'pgq_node.register_subscriber(text, text, text, int8), '
        || 'pgq_node.unregister_subscriber(text, text), '
        || 'pgq_node.set_subscriber_watermark(text, text, bigint)';
    tables text := 'pgq_node.node_location, pgq_node.node_info, pgq_node.local_state, pgq_node.subscriber_info';
    have_roles boolean;
begin
    select count(*) = 3 into have_roles
      from pg_catalog.pg_roles where rolname in ('pgq_reader', 'pgq_writer', 'pgq_admin');

    execute 'revoke all on function ' || consumer_fns || ', ' || worker_fns || ', ' || admin_fns
         || ', ' || remote_fns || ' from public';
    execute 'grant execute on function ' || public_fns || ' to public';
    execute 'revoke all on table ' || tables || ' from public';
    if not have_roles then
        return;
    end if;
    execute 'grant execute on function ' || consumer_fns || ' to pgq_writer, pgq_admin';
    execute 'grant execute on function ' || worker_fns || ' to pgq_admin';
    execute 'grant execute on function ' || admin_fns || ' to pgq_admin';
    execute 'grant execute on function ' || remote_fns || ' to pgq_reader, pgq_writer, pgq_admin';
    execute 'grant select on table ' || tables || ' to pgq_reader, pgq_writer';
    execute 'grant select, insert, update, delete on table ' || tables || ' to pgq_admin';
end
$grants$;
