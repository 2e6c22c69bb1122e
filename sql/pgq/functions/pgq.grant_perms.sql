-- pgq.grant_perms(x_queue_name text) returns integer
--
-- Gives the queue's sequences and event tables the privileges of pgq.event_template
-- (pgq_reader: select; pgq_admin: select, insert, truncate), plus select on the sequences to
-- public and usage on the event sequence to pgq_admin. Returns 1.
-- Errors: unknown queue ('Queue not found').
create or replace function pgq.grant_perms(x_queue_name text)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    q          record;
    dst_schema text;
    dst_table  text;
begin
    select * into q from pgq.queue where queue_name = x_queue_name;
    if not found then
        raise exception 'Queue not found' using errcode = 'PQ001';
    end if;
    if position('.' in q.queue_data_pfx) > 0 then
        dst_schema := split_part(q.queue_data_pfx, '.', 1);
        dst_table := substr(q.queue_data_pfx, position('.' in q.queue_data_pfx) + 1);
    else
        dst_schema := 'public';
        dst_table := q.queue_data_pfx;
    end if;
    execute 'grant select on ' || pgq.quote_fqname(q.queue_tick_seq) || ' to public';
    execute 'grant select on ' || pgq.quote_fqname(q.queue_event_seq) || ' to public';
    if exists (select 1 from pg_roles where rolname = 'pgq_admin') then
        execute 'grant usage on ' || pgq.quote_fqname(q.queue_event_seq) || ' to pgq_admin';
    end if;
    perform pgq._grant_perms_from('pgq', 'event_template', dst_schema, dst_table);
    for i in 0 .. q.queue_ntables - 1 loop
        perform pgq._grant_perms_from('pgq', 'event_template', dst_schema, dst_table || '_' || i::text);
    end loop;
    return 1;
end;
$$;
