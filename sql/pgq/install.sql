-- PgQ 3.5, pure SQL + PL/pgSQL. Order: tables, internal helpers, public API, triggers, grants.
\ir tables.sql

-- internal helpers
\ir functions/pgq.quote_fqname.sql
\ir functions/pgq.seq_getval.sql
\ir functions/pgq.seq_setval.sql
\ir functions/pgq._grant_perms_from.sql
\ir functions/pgq._subscription_write.sql
\ir functions/pgq.version.sql

-- producers
\ir functions/pgq.insert_event_raw.sql
\ir functions/pgq.insert_event.sql
\ir functions/pgq.insert_event_bulk.sql
\ir functions/pgq.current_event_table.sql

-- queue administration
\ir functions/pgq.grant_perms.sql
\ir functions/pgq.tune_storage.sql
\ir functions/pgq.create_queue.sql
\ir functions/pgq.drop_queue.sql
\ir functions/pgq.set_queue_config.sql
\ir functions/pgq.upgrade_schema.sql

-- ticker and maintenance
\ir functions/pgq._ticker_due.sql
\ir functions/pgq.ticker.sql
\ir functions/pgq._tick_now.sql
\ir functions/pgq.ticker_poll.sql
\ir functions/pgq.force_tick.sql
\ir functions/pgq.maint_retry_events.sql
\ir functions/pgq.maint_rotate_tables.sql
\ir functions/pgq.maint_tables_to_vacuum.sql
\ir functions/pgq.maint_operations.sql

-- consumers
\ir functions/pgq.register_consumer.sql
\ir functions/pgq.unregister_consumer.sql
\ir functions/pgq.find_tick_helper.sql
\ir functions/pgq.next_batch.sql
\ir functions/pgq.batch_event_tables.sql
\ir functions/pgq.batch_event_sql.sql
\ir functions/pgq.get_batch_events.sql
\ir functions/pgq.get_batch_cursor.sql
\ir functions/pgq.event_retry.sql
\ir functions/pgq.event_retry_raw.sql
\ir functions/pgq.batch_retry.sql
\ir functions/pgq.finish_batch.sql

-- information
\ir functions/pgq.get_queue_info.sql
\ir functions/pgq.get_consumer_info.sql
\ir functions/pgq.get_batch_info.sql

-- triggers
\ir triggers/install.sql

\ir grants.sql
