-- pgq_node 3.5 (cascaded queues), pure SQL + PL/pgSQL. Needs sql/pgq installed first.
-- Order: tables, internal/maintenance, node map, node operations, provider side, subscriber
-- side, grants.
\ir tables.sql

-- maintenance and version
\ir functions/pgq_node.upgrade_schema.sql
\ir functions/pgq_node.version.sql
\ir functions/pgq_node.maint_watermark.sql

-- global node map
\ir functions/pgq_node.register_location.sql
\ir functions/pgq_node.unregister_location.sql
\ir functions/pgq_node.get_queue_locations.sql

-- node operations
\ir functions/pgq_node.create_node.sql
\ir functions/pgq_node.drop_node.sql
\ir functions/pgq_node.get_node_info.sql
\ir functions/pgq_node.is_root_node.sql
\ir functions/pgq_node.is_leaf_node.sql
\ir functions/pgq_node.get_subscriber_info.sql
\ir functions/pgq_node.get_consumer_info.sql
\ir functions/pgq_node.demote_root.sql
\ir functions/pgq_node.promote_branch.sql
\ir functions/pgq_node.set_node_attrs.sql

-- provider side (called by a subscriber's worker)
\ir functions/pgq_node.register_subscriber.sql
\ir functions/pgq_node.unregister_subscriber.sql
\ir functions/pgq_node.set_subscriber_watermark.sql

-- worker on the local node
\ir functions/pgq_node.get_worker_state.sql
\ir functions/pgq_node.set_global_watermark.sql
\ir functions/pgq_node.set_partition_watermark.sql

-- any cascaded consumer on the local node
\ir functions/pgq_node.register_consumer.sql
\ir functions/pgq_node.unregister_consumer.sql
\ir functions/pgq_node.get_consumer_state.sql
\ir functions/pgq_node.change_consumer_provider.sql
\ir functions/pgq_node.set_consumer_uptodate.sql
\ir functions/pgq_node.set_consumer_paused.sql
\ir functions/pgq_node.set_consumer_completed.sql
\ir functions/pgq_node.set_consumer_error.sql

\ir grants.sql
