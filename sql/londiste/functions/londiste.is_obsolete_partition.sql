-- londiste.is_obsolete_partition(i_partition_table text, i_retention_period interval,
--     i_partition_period text) returns boolean
--
-- For partitioning handlers with a retention period: whether the partition named
-- i_partition_table ('<base>_YYYY', '_YYYY_MM', '_YYYY_MM_DD' or '_YYYY_MM_DD_HH' for
-- i_partition_period 'year'/'yearly', 'month'/'monthly', 'day'/'daily', 'hour'/'hourly') holds
-- only data older than now() - i_retention_period: its name sorts before the name the
-- partition of that moment would have.
-- Returns true (drop it), false (keep it, also for a NULL retention), NULL when the name does not end in the period's
-- date suffix.
-- Errors: 'not supported i_partition_period: <p>'.
-- Tables: none.
create or replace function londiste.is_obsolete_partition(
    in i_partition_table text,
    in i_retention_period interval,
    in i_partition_period text)
returns boolean
language plpgsql
as $$
declare
    suffix_re   text;
    suffix_fmt  text;
    base        text;
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
    base := substring(i_partition_table from '^(.+)' || suffix_re || '$');
    if base is null then
        return null;
    end if;
    -- a NULL retention compares as NULL: not obsolete, as in 3.8
    return coalesce(i_partition_table < base || to_char(now() - i_retention_period, suffix_fmt), false);
end;
$$;
