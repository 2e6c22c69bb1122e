-- londiste tables: which tables and sequences each cascaded queue replicates on this node, the
-- EXECUTE scripts already applied and foreign keys set aside during a copy. Same names, columns,
-- defaults and constraints as londiste 3.8. Every statement is idempotent, so re-running the
-- installer keeps the rows; later changes are appended as guarded ALTERs.
--
--   londiste.table_info       tables of a queue: registered on this node (local), copy state
--   londiste.seq_info         sequences of a queue: last value the root published, local flag
--   londiste.applied_execute  EXECUTE scripts run on this node, by file name
--   londiste.pending_fkeys    foreign keys dropped for a copy, to be restored afterwards
--
-- table_info.merge_state walks: NULL (not copied yet) -> 'in-copy' -> 'catching-up' ->
-- 'wanna-sync:<tick>' -> 'do-sync:<tick>' -> 'ok'. dropped_ddl (indexes taken off for a faster
-- copy) may be set only while a copy runs.
create schema if not exists londiste;

create table if not exists londiste.table_info (
    nr              serial not null,
    queue_name      text not null,
    table_name      text not null,
    local           boolean not null default false,
    merge_state     text,
    custom_snapshot text,
    dropped_ddl     text,
    table_attrs     text,
    dest_table      text,
    primary key (queue_name, table_name),
    -- dropping the node drops its table registrations
    foreign key (queue_name) references pgq_node.node_info (queue_name) on delete cascade,
    check (dropped_ddl is null or merge_state in ('in-copy', 'catching-up'))
);

create table if not exists londiste.seq_info (
    nr          serial not null,
    queue_name  text not null,
    seq_name    text not null,
    local       boolean not null default false,
    last_value  int8 not null,
    primary key (queue_name, seq_name),
    foreign key (queue_name) references pgq_node.node_info (queue_name) on delete cascade
);

create table if not exists londiste.applied_execute (
    queue_name      text not null,
    execute_file    text not null,
    execute_time    timestamptz not null default now(),
    execute_sql     text not null,
    execute_attrs   text,
    primary key (execute_file)
);

-- not per queue: a foreign key belongs to the tables, whatever queues carry them
create table if not exists londiste.pending_fkeys (
    from_table  text not null,
    to_table    text not null,
    fkey_name   text not null,
    fkey_def    text not null,
    primary key (from_table, fkey_name)
);
