-- pgq_ext.upgrade_schema() returns int4
--
-- Brings pgq_ext tables created by an older pgq_ext (before subconsumers) to the current
-- layout: adds subconsumer_id (existing rows get ''), rebuilds the primary key to include it,
-- and gives subconsumer_id its default ''. Run by install.sql on every install; a no-op on
-- current tables.
-- Returns the number of changes made (0 when already current).
-- Tables: pgq_ext.completed_batch, completed_tick, partial_batch, completed_event (alter).
create or replace function pgq_ext.upgrade_schema()
returns int4
language plpgsql
set search_path = pg_catalog, pgq_ext
as $$
declare
    v_changes int4 := 0;
    v_table text;
    v_key text;
begin
    for v_table, v_key in
        select t.name, t.key
          from (values ('completed_batch', 'consumer_id, subconsumer_id'),
                       ('completed_tick', 'consumer_id, subconsumer_id'),
                       ('partial_batch', 'consumer_id, subconsumer_id'),
                       ('completed_event', 'consumer_id, subconsumer_id, batch_id, event_id')) as t(name, key)
    loop
        if to_regclass('pgq_ext.' || v_table) is null then
            continue;
        end if;
        if not exists (select 1 from pg_attribute a
                        where a.attrelid = ('pgq_ext.' || v_table)::regclass
                          and a.attname = 'subconsumer_id' and not a.attisdropped) then
            execute format('alter table pgq_ext.%I add column subconsumer_id text', v_table);
            execute format('update pgq_ext.%I set subconsumer_id = %L', v_table, '');
            execute format('alter table pgq_ext.%I alter column subconsumer_id set not null', v_table);
            execute format('alter table pgq_ext.%I drop constraint if exists %I', v_table, v_table || '_pkey');
            execute format('alter table pgq_ext.%I add constraint %I primary key (%s)',
                           v_table, v_table || '_pkey', v_key);
            v_changes := v_changes + 1;
        end if;
        if not exists (select 1 from pg_attrdef d
                         join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
                        where d.adrelid = ('pgq_ext.' || v_table)::regclass
                          and a.attname = 'subconsumer_id') then
            execute format('alter table pgq_ext.%I alter column subconsumer_id set default %L', v_table, '');
            v_changes := v_changes + 1;
        end if;
    end loop;
    return v_changes;
end;
$$;
