-- londiste.create_partition(i_table text, i_part text, i_pkeys text, i_part_field text,
--     i_part_time timestamptz, i_part_period text) returns int
--
-- For partitioning handlers: creates table i_part as an inheritance child of i_table when it
-- does not exist yet. Names without a schema are in 'public'. The child gets the parent's
-- columns, defaults, constraints, indexes, storage and comments (like ... including all), the
-- parent's owner, its table privileges, its triggers (same enabled mode) and its rules (same
-- enabled mode). With a partition field (i_part_field not ''), also a check constraint
-- i_part_field >= start and < end of the i_part_period ('hour', 'day', 'month', 'year': a
-- date_trunc unit) that contains i_part_time. i_pkeys is not used (kept for callers).
-- Partitions are created one at a time: a share update exclusive lock on londiste.table_info,
-- so the DML of other sessions is not blocked.
-- Returns 1 when created, 0 when it existed.
-- Errors: 'need table and part' (NULL names); an unknown parent (regclass); 'Failed to
-- reconstruct the trigger: <sql>', 'Unknown trigger mode: <m>', 'failed to match rule name',
-- 'failed to find original table name', 'unknown rule option: <o>' when a trigger or rule
-- definition cannot be moved to the child.
-- Tables: londiste.table_info (lock); the parent (read), the child (create, alter, grant).
create or replace function londiste.create_partition(
    i_table text,
    i_part text,
    i_pkeys text,
    i_part_field text,
    i_part_time timestamptz,
    i_part_period text)
returns int
language plpgsql
as $$
declare
    parent_schema   text := case when position('.' in i_table) > 0
                                 then split_part(i_table, '.', 1) else 'public' end;
    parent_name     text := case when position('.' in i_table) > 0
                                 then substr(i_table, position('.' in i_table) + 1) else i_table end;
    part_schema     text := case when position('.' in i_part) > 0
                                 then split_part(i_part, '.', 1) else 'public' end;
    part_name       text := case when position('.' in i_part) > 0
                                 then substr(i_part, position('.' in i_part) + 1) else i_part end;
    fq_table        text;
    fq_part         text;
    parent_oid      oid;
    parent_owner    name;
    part_start      timestamptz;
    part_end        timestamptz;
    g               record;
    tg              record;
    r               record;
    def             text;
    head            text;
    old_name        text;
    mode            text;
begin
    if i_table is null or i_part is null then
        raise exception 'need table and part';
    end if;
    fq_table := quote_ident(parent_schema) || '.' || quote_ident(parent_name);
    fq_part := quote_ident(part_schema) || '.' || quote_ident(part_name);

    -- one creator at a time, without blocking the replay's writes
    lock table londiste.table_info in share update exclusive mode;
    parent_oid := fq_table::regclass::oid;
    if exists (select 1 from pg_catalog.pg_class c
                 join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                where n.nspname = part_schema and c.relname = part_name) then
        return 0;
    end if;

    execute 'create table ' || fq_part || ' (like ' || fq_table || ' including all) inherits ('
         || fq_table || ')';

    select pg_catalog.pg_get_userbyid(c.relowner) into parent_owner
      from pg_catalog.pg_class c where c.oid = parent_oid;
    if parent_owner <> current_user then
        execute 'alter table ' || fq_part || ' owner to ' || quote_ident(parent_owner);
    end if;

    if i_part_field <> '' then
        part_start := date_trunc(i_part_period, i_part_time);
        part_end := part_start + ('1 ' || i_part_period)::interval;
        execute 'alter table ' || fq_part || ' add check ('
             || quote_ident(i_part_field) || ' >= '
             || quote_literal(to_char(part_start, 'YYYY-MM-DD HH24:MI:SS')) || ' and '
             || quote_ident(i_part_field) || ' < '
             || quote_literal(to_char(part_end, 'YYYY-MM-DD HH24:MI:SS')) || ')';
    end if;

    -- like ... including all copies no privileges
    for g in
        select p.grantee, p.privilege_type, p.is_grantable
          from information_schema.table_privileges p
         where p.table_schema = parent_schema and p.table_name = parent_name
    loop
        execute 'grant ' || g.privilege_type || ' on ' || fq_part || ' to '
             || case when g.grantee = 'PUBLIC' then 'public' else quote_ident(g.grantee) end
             || case when g.is_grantable = 'YES' then ' with grant option' else '' end;
    end loop;

    -- nor triggers: each definition is re-aimed at the child
    for tg in
        select t.tgname, t.tgenabled, pg_catalog.pg_get_triggerdef(t.oid) as tgdef
          from pg_catalog.pg_trigger t
         where t.tgrelid = parent_oid and not t.tgisinternal
    loop
        def := regexp_replace(tg.tgdef, ' ON ([[:alnum:]_.]+|"([^"]|"")+")+ ', ' ON ' || fq_part || ' ');
        if def = tg.tgdef then
            raise exception 'Failed to reconstruct the trigger: %', def;
        end if;
        execute def;
        mode := case tg.tgenabled
                    when 'O' then ''
                    when 'D' then ' disable trigger '
                    when 'A' then ' enable always trigger '
                    when 'R' then ' enable replica trigger '
                end;
        if mode is null then
            raise exception 'Unknown trigger mode: %', tg.tgenabled;
        elsif mode <> '' then
            execute 'alter table ' || fq_part || mode || quote_ident(tg.tgname);
        end if;
    end loop;

    -- nor rules: the definition names the parent after ' TO ', which becomes the child
    for r in
        select w.rulename, w.ev_enabled, pg_catalog.pg_get_ruledef(w.oid) as definition
          from pg_catalog.pg_rewrite w
         where w.ev_class = parent_oid and w.rulename <> '_RETURN'::name
    loop
        head := 'CREATE RULE ' || quote_ident(r.rulename) || ' AS';
        if substr(r.definition, 1, char_length(head)) <> head then
            raise exception 'failed to match rule name';
        end if;
        old_name := substring(substr(r.definition, char_length(head))
                              from ' TO (([[:alnum:]_.]+|"([^"]+|"")+")+)[[:space:]]');
        if coalesce(char_length(old_name), 0) = 0 then
            raise exception 'failed to find original table name';
        end if;
        execute replace(r.definition, old_name, fq_part);
        mode := case r.ev_enabled
                    when 'O' then ''
                    when 'R' then ' enable replica rule '
                    when 'A' then ' enable always rule '
                    when 'D' then ' disable rule '
                end;
        if mode is null then
            raise exception 'unknown rule option: %', r.ev_enabled;
        elsif mode <> '' then
            execute 'alter table ' || fq_part || mode || quote_ident(r.rulename);
        end if;
    end loop;
    return 1;
end;
$$;
