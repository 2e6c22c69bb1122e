-- londiste.list_obsolete_partitions(i_parent_table text, i_retention_period interval,
--     i_partition_period text) returns setof text
--
-- The partitions of date-partitioned table i_parent_table ('schema.table', or 'table' in
-- 'public') that hold only data older than now() - i_retention_period: the tables of its
-- schema named '<table>' plus the period's date suffix (see londiste.is_obsolete_partition)
-- that sort before the name of the partition of that moment. Quoted 'schema.table' names, in
-- order. The table name is used as a regular expression, as in 3.8.
-- Errors: 'not supported i_partition_period: <p>'; 'null value cannot be assigned to variable
-- "_schema" declared NOT NULL' for a NULL name (the variables are named as in 3.8 for that).
-- Tables: pg_catalog.pg_tables (read).
create or replace function londiste.list_obsolete_partitions(
    in i_parent_table text,
    in i_retention_period interval,
    in i_partition_period text)
returns setof text
language plpgsql
as $$
declare
    _schema     text not null := split_part(i_parent_table, '.', 1);
    _table      text not null := split_part(i_parent_table, '.', 2);
    suffix_re   text;
    suffix_fmt  text;
begin
    case
        when i_partition_period in ('year', 'yearly') then
            suffix_re := '_[0-9]{4}';
            suffix_fmt := '_YYYY';
        when i_partition_period in ('month', 'monthly') then
            suffix_re := '_[0-9]{4}_[0-9]{2}';
            suffix_fmt := '_YYYY_MM';
        when i_partition_period in ('day', 'daily') then
            suffix_re := '_[0-9]{4}_[0-9]{2}_[0-9]{2}';
            suffix_fmt := '_YYYY_MM_DD';
        when i_partition_period in ('hour', 'hourly') then
            suffix_re := '_[0-9]{4}_[0-9]{2}_[0-9]{2}_[0-9]{2}';
            suffix_fmt := '_YYYY_MM_DD_HH24';
        else
            raise exception 'not supported i_partition_period: %', i_partition_period;
    end case;
    if length(_table) = 0 then
        _table := _schema;
        _schema := 'public';
    end if;
    return query
        select quote_ident(t.schemaname) || '.' || quote_ident(t.tablename)
          from pg_catalog.pg_tables t
         where t.schemaname = _schema
           and t.tablename ~ ('^' || _table || suffix_re || '$')
           and t.tablename < _table || to_char(now() - i_retention_period, suffix_fmt)
         order by 1;
end;
$$;
