-- Privileges as in londiste 3.8: anyone may read the tables and call the name helpers;
-- londiste_reader reads a provider's table and sequence lists; londiste_writer (the replay
-- worker and the setup tool) runs everything; pgq_admin may change the tables and run the
-- sequence check and the periodic maintenance. The role grants are skipped when the roles do not exist
-- (installer without CREATEROLE). One difference: 3.8 forgot local_change_handler in its
-- grants, so anyone may call it there; here it is londiste_writer's like the other setup calls.
grant usage on schema londiste to public;

do $grants$
declare
    tables text := 'londiste.table_info, londiste.seq_info, londiste.pending_fkeys, '
        || 'londiste.applied_execute';
    seqs text := 'londiste.table_info_nr_seq, londiste.seq_info_nr_seq';
    public_fns text := 'londiste.find_column_types(text), londiste.find_rel_oid(text, text), '
        || 'londiste.find_table_oid(text), londiste.find_seq_oid(text), '
        || 'londiste.is_replica_func(oid), londiste.quote_fqname(text), '
        || 'londiste.make_fqname(text), londiste.split_fqname(text), londiste.version(), '
        || 'londiste.find_table_fkeys(text)';
    remote_fns text := 'londiste.get_seq_list(text), londiste.get_table_list(text), '
        || 'londiste._coordinate_copy(text, text)';
    local_fns text := 'londiste.local_show_missing(text), londiste.local_add_seq(text, text), '
        || 'londiste.local_remove_seq(text, text), londiste.local_remove_table(text, text), '
        || 'londiste.global_add_table(text, text), londiste.global_remove_table(text, text), '
        || 'londiste.global_update_seq(text, text, int8), londiste.global_remove_seq(text, text), '
        || 'londiste.root_notify_change(text, text, text), '
        || 'londiste.local_set_table_state(text, text, text, text), '
        || 'londiste.local_set_table_attrs(text, text, text), '
        || 'londiste.local_set_table_struct(text, text, text), '
        || 'londiste.drop_table_triggers(text, text), londiste.table_info_trigger(), '
        || 'londiste.set_session_replication_role(text, bool), '
        || 'londiste.create_trigger(text, text, text[], text, text), '
        || 'londiste.local_add_table(text, text, text[], text, text), '
        || 'londiste.local_add_table(text, text, text[], text), '
        || 'londiste.local_add_table(text, text, text[]), londiste.local_add_table(text, text), '
        || 'londiste.local_change_handler(text, text, text[], text), '
        || 'londiste.get_table_pending_fkeys(text), londiste.get_valid_pending_fkeys(text), '
        || 'londiste.drop_table_fkey(text, text), londiste.restore_table_fkey(text, text, boolean), '
        || 'londiste.execute_start(text, text, text, boolean), '
        || 'londiste.execute_start(text, text, text, boolean, text), '
        || 'londiste.execute_finish(text, text), '
        || 'londiste.create_partition(text, text, text, text, timestamptz, text), '
        || 'londiste.is_obsolete_partition(text, interval, text), '
        || 'londiste.list_obsolete_partitions(text, interval, text), '
        || 'londiste.drop_obsolete_partitions(text, interval, text), londiste.upgrade_schema()';
    maint_fns text := 'londiste.root_check_seqs(text), londiste.root_check_seqs(text, int8), '
        || 'londiste.periodic_maintenance()';
    have_roles boolean;
begin
    select count(*) = 3 into have_roles
      from pg_catalog.pg_roles where rolname in ('londiste_reader', 'londiste_writer', 'pgq_admin');

    execute 'revoke all on table ' || tables || ' from public';
    execute 'grant select on table ' || tables || ' to public';
    execute 'revoke all on sequence ' || seqs || ' from public';
    execute 'grant execute on function ' || public_fns || ' to public';
    execute 'revoke all on function ' || remote_fns || ', ' || local_fns || ', ' || maint_fns
         || ' from public';
    if not have_roles then
        return;
    end if;
    execute 'grant select on table ' || tables || ' to londiste_reader';
    execute 'grant select, insert, update, delete on table ' || tables || ' to pgq_admin';
    execute 'grant execute on function ' || remote_fns || ' to londiste_reader, londiste_writer';
    execute 'grant execute on function ' || local_fns || ' to londiste_writer';
    execute 'grant usage on sequence ' || seqs || ' to londiste_writer';
    execute 'grant execute on function ' || maint_fns || ' to londiste_writer, pgq_admin';
end
$grants$;
