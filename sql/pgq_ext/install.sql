-- pgq_ext: exactly-once tracking for consumers that write into another database. Independent
-- of the pgq schema: install it in the database the consumer writes into (sql/install.sql
-- installs it everywhere with the other modules). Order: tables, upgrade, functions, grants.
\ir tables.sql
\ir functions/pgq_ext.upgrade_schema.sql
do $upgrade$ begin perform pgq_ext.upgrade_schema(); end $upgrade$;

\ir functions/pgq_ext.version.sql

-- batch tracking (remote consumer)
\ir functions/pgq_ext.is_batch_done.sql
\ir functions/pgq_ext.set_batch_done.sql

-- event tracking within a batch (partial batches)
\ir functions/pgq_ext.is_event_done.sql
\ir functions/pgq_ext.set_event_done.sql

-- tick tracking (serial consumer)
\ir functions/pgq_ext.get_last_tick.sql
\ir functions/pgq_ext.set_last_tick.sql

\ir grants.sql
