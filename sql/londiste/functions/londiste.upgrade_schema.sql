-- londiste.upgrade_schema() returns int4
--
-- Brings londiste tables made by an older londiste 3 up to the 3.8 layout, and creates the
-- roles londiste_writer (member of pgq_admin) and londiste_reader (member of pgq_reader) when
-- they are missing and the installing role may create roles (else a notice: the grants to them
-- are then skipped). install.sql runs it on every install, after tables.sql; on current tables
-- it changes nothing. The table_info trigger's timing (before delete) is not checked here:
-- londiste.table_info_trigger.sql re-creates the trigger on every install.
--   table_info: the check constraint also allows dropped_ddl while 'catching-up';
--               column dest_table
--   applied_execute: column execute_attrs; primary key execute_file alone (not per queue);
--               no foreign key to pgq_node.node_info
-- Returns 0, as 3.8 does whatever it changed.
-- Tables: londiste.table_info, londiste.applied_execute (alter); pg_roles (create role).
create or replace function londiste.upgrade_schema()
returns int4
language plpgsql
as $$
declare
    may_create boolean;
begin
    if exists (select 1 from information_schema.check_constraints c
                where c.constraint_schema = 'londiste' and c.constraint_name = 'table_info_check'
                  and position('in-copy' in c.check_clause) > 0
                  and position('catching' in c.check_clause) = 0) then
        alter table londiste.table_info drop constraint table_info_check;
        alter table londiste.table_info add constraint table_info_check
            check (dropped_ddl is null or merge_state in ('in-copy', 'catching-up'));
    end if;
    -- guarded rather than IF NOT EXISTS: a current schema gets no notices on every install
    if not exists (select 1 from information_schema.columns c
                    where c.table_schema = 'londiste' and c.table_name = 'table_info'
                      and c.column_name = 'dest_table') then
        alter table londiste.table_info add column dest_table text;
    end if;
    if not exists (select 1 from information_schema.columns c
                    where c.table_schema = 'londiste' and c.table_name = 'applied_execute'
                      and c.column_name = 'execute_attrs') then
        alter table londiste.applied_execute add column execute_attrs text;
    end if;
    if exists (select 1 from pg_catalog.pg_indexes i
                where i.schemaname = 'londiste' and i.tablename = 'applied_execute'
                  and i.indexname = 'applied_execute_pkey' and i.indexdef like '%queue_name%') then
        alter table londiste.applied_execute drop constraint applied_execute_pkey;
        alter table londiste.applied_execute add constraint applied_execute_pkey
            primary key (execute_file);
    end if;
    if exists (select 1 from pg_catalog.pg_constraint k
                where k.conrelid = 'londiste.applied_execute'::regclass and k.contype = 'f'
                  and k.conname = 'applied_execute_queue_name_fkey') then
        alter table londiste.applied_execute drop constraint applied_execute_queue_name_fkey;
    end if;

    if exists (select 1 from pg_catalog.pg_roles where rolname = 'londiste_writer')
       and exists (select 1 from pg_catalog.pg_roles where rolname = 'londiste_reader') then
        return 0;
    end if;
    select r.rolsuper or r.rolcreaterole into may_create
      from pg_catalog.pg_roles r where r.rolname = current_user;
    if not may_create
       or not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_admin')
       or not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_reader') then
        raise notice 'role % may not create roles (or pgq''s roles are missing): skipping londiste_writer/londiste_reader',
            current_user;
        return 0;
    end if;
    begin
        if not exists (select 1 from pg_catalog.pg_roles where rolname = 'londiste_writer') then
            create role londiste_writer in role pgq_admin;
        end if;
        if not exists (select 1 from pg_catalog.pg_roles where rolname = 'londiste_reader') then
            create role londiste_reader in role pgq_reader;
        end if;
    exception when insufficient_privilege then
        -- CREATEROLE without admin rights on pgq's roles (PostgreSQL 16+)
        raise notice 'cannot create londiste_writer/londiste_reader: %', sqlerrm;
    end;
    return 0;
end;
$$;
