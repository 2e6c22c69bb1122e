-- pgq_node.set_consumer_paused(i_queue_name text, i_consumer_name text, i_paused boolean,
--     out ret_code int4, out ret_note text)
--
-- Pauses (true) or resumes (false) a cascaded consumer; a change clears uptodate so the
-- consumer notices it.
-- Returns 200 'Consumer <consumer> tagged as paused|resumed'; 201 'Consumer <consumer>
-- already paused|resumed' when the flag is already so; 404 'Unknown consumer: <consumer>'.
-- Tables: pgq_node.local_state (update).
create or replace function pgq_node.set_consumer_paused(
    in i_queue_name text,
    in i_consumer_name text,
    in i_paused boolean,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    was_paused boolean;
    word text := case when i_paused then 'paused' else 'resumed' end;
begin
    select w.paused into was_paused
      from pgq_node.local_state w
     where w.queue_name = i_queue_name
       and w.consumer_name = i_consumer_name
       for update;
    if not found then
        ret_code := 404;
        ret_note := 'Unknown consumer: ' || i_consumer_name;
    elsif was_paused = i_paused then
        ret_code := 201;
        ret_note := 'Consumer ' || i_consumer_name || ' already ' || word;
    else
        update pgq_node.local_state w
           set paused = i_paused,
               uptodate = false
         where w.queue_name = i_queue_name
           and w.consumer_name = i_consumer_name;
        ret_code := 200;
        ret_note := 'Consumer ' || i_consumer_name || ' tagged as ' || word;
    end if;
end;
$$;
