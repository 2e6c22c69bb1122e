-- londiste.drop_obsolete_partitions(i_parent_table text, i_retention_period interval,
--     i_partition_period text) returns setof text
--
-- Drops the partitions londiste.list_obsolete_partitions names (their data is older than the
-- retention period) and returns their names, in the order dropped.
-- Errors: those of list_obsolete_partitions; a partition that cannot be dropped (dependent
-- objects) stops the call.
-- Tables: the partitions (drop).
create or replace function londiste.drop_obsolete_partitions(
    in i_parent_table text,
    in i_retention_period interval,
    in i_partition_period text)
returns setof text
language plpgsql
as $$
declare
    part text;
begin
    for part in
        select p from londiste.list_obsolete_partitions(i_parent_table, i_retention_period,
                                                         i_partition_period) p
    loop
        execute 'drop table ' || part;
        return next part;
    end loop;
end;
$$;
