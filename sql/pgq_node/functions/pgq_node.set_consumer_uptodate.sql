-- pgq_node.set_consumer_uptodate(i_queue_name text, i_consumer_name text, i_uptodate boolean,
--     out ret_code int4, out ret_note text)
--
-- Sets a cascaded consumer's uptodate flag: the consumer sets it once it has seen the latest
-- admin change (pause, provider change); admin changes clear it.
-- Returns 200 'Consumer uptodate = 0|1'; 404 'Consumer not known: <queue>/<consumer>'.
-- Tables: pgq_node.local_state (update).
create or replace function pgq_node.set_consumer_uptodate(
    in i_queue_name text,
    in i_consumer_name text,
    in i_uptodate boolean,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
begin
    update pgq_node.local_state w
       set uptodate = i_uptodate
     where w.queue_name = i_queue_name
       and w.consumer_name = i_consumer_name;
    if found then
        ret_code := 200;
        ret_note := 'Consumer uptodate = ' || i_uptodate::int4::text;
    else
        ret_code := 404;
        ret_note := 'Consumer not known: ' || i_queue_name || '/' || i_consumer_name;
    end if;
end;
$$;
