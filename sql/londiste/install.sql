-- londiste 3.8 (table replication over cascaded queues). Needs sql/pgq and sql/pgq_node
-- installed first; sql/install.sql includes it after them.
-- Order: tables and their upgrade, name helpers (SQL bodies are checked at creation, so
-- helpers come first), triggers housekeeping, sequences, tables, foreign keys, EXECUTE,
-- partition helpers, grants.
\ir tables.sql
\ir functions/londiste.upgrade_schema.sql
do $upgrade$ begin perform londiste.upgrade_schema(); end $upgrade$;

-- version and name helpers
\ir functions/londiste.version.sql
\ir functions/londiste.split_fqname.sql
\ir functions/londiste.make_fqname.sql
\ir functions/londiste.quote_fqname.sql
\ir functions/londiste.find_rel_oid.sql
\ir functions/londiste.find_table_oid.sql
\ir functions/londiste.find_seq_oid.sql
\ir functions/londiste.find_column_types.sql
\ir functions/londiste.is_replica_func.sql
\ir functions/londiste.set_session_replication_role.sql

-- replication triggers housekeeping, events to the nodes
\ir functions/londiste.drop_table_triggers.sql
\ir functions/londiste.table_info_trigger.sql
\ir functions/londiste.root_notify_change.sql

-- sequences
\ir functions/londiste.root_check_seqs.sql
\ir functions/londiste.get_seq_list.sql
\ir functions/londiste.global_update_seq.sql
\ir functions/londiste.global_remove_seq.sql
\ir functions/londiste.local_add_seq.sql
\ir functions/londiste.local_remove_seq.sql

-- tables
\ir functions/londiste.global_add_table.sql
\ir functions/londiste.global_remove_table.sql
\ir functions/londiste.local_remove_table.sql
\ir functions/londiste.local_set_table_state.sql
\ir functions/londiste.local_set_table_attrs.sql
\ir functions/londiste.local_set_table_struct.sql
\ir functions/londiste.local_show_missing.sql
\ir functions/londiste.create_trigger.sql
\ir functions/londiste.local_add_table.sql
\ir functions/londiste.local_change_handler.sql
\ir functions/londiste._coordinate_copy.sql
\ir functions/londiste.get_table_list.sql

-- foreign keys set aside around a copy
\ir functions/londiste.find_table_fkeys.sql
\ir functions/londiste.get_table_pending_fkeys.sql
\ir functions/londiste.get_valid_pending_fkeys.sql
\ir functions/londiste.drop_table_fkey.sql
\ir functions/londiste.restore_table_fkey.sql

-- EXECUTE scripts, maintenance
\ir functions/londiste.execute_start.sql
\ir functions/londiste.execute_finish.sql
\ir functions/londiste.periodic_maintenance.sql

-- helpers of partitioning handlers
\ir functions/londiste.create_partition.sql
\ir functions/londiste.is_obsolete_partition.sql
\ir functions/londiste.list_obsolete_partitions.sql
\ir functions/londiste.drop_obsolete_partitions.sql

\ir grants.sql
