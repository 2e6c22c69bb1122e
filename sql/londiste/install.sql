-- londiste 3.8 (table replication over cascaded queues), first increment: tables, name
-- helpers, table and sequence registration. Needs sql/pgq and sql/pgq_node installed first.
-- Not part of sql/install.sql yet (the schema is incomplete); install it on its own.
-- Order: tables, name helpers (SQL bodies are checked at creation, so helpers come first),
-- triggers housekeeping, sequences, tables, grants.
\ir tables.sql

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

\ir grants.sql
