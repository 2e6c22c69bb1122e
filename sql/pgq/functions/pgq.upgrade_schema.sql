-- pgq.upgrade_schema() returns int4
--
-- Brings an older PgQ schema up to the current table layout (the installer runs the guarded
-- DDL in tables.sql; this function remains for clients that call it). Returns the number of
-- changes made.
create or replace function pgq.upgrade_schema()
returns int4
language plpgsql
as $$
declare
    cnt int4 := 0;
begin
    if exists (select 1 from information_schema.columns
                where table_schema = 'pgq' and table_name = 'subscription'
                  and column_name = 'sub_last_tick' and is_nullable = 'NO') then
        alter table pgq.subscription alter column sub_last_tick drop not null;
        cnt := cnt + 1;
    end if;
    if not exists (select 1 from pg_attribute
                    where attrelid = 'pgq.queue'::regclass and attname = 'queue_extra_maint' and not attisdropped) then
        alter table pgq.queue add column queue_extra_maint text[];
        cnt := cnt + 1;
    end if;
    return cnt;
end;
$$;
