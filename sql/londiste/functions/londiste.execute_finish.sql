-- londiste.execute_finish(i_queue_name text, i_file_name text,
--     out ret_code int4, out ret_note text)
--
-- Ends applying EXECUTE script i_file_name (recorded by londiste.execute_start), in the same
-- transaction. On the root it sends the script to the nodes: an 'EXECUTE' event with ev_data
-- the script, ev_extra1 the file name and ev_extra2 its attributes.
-- Returns 200 'Execute finished: <file>'; 404 'execute_file called without execute_start'.
-- Strict.
-- Errors: an unknown queue raises PN001 (pgq_node.is_root_node).
-- Tables: londiste.applied_execute (read); a pgq event on the root.
create or replace function londiste.execute_finish(
    in i_queue_name text,
    in i_file_name text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
strict
as $$
declare
    is_root boolean := pgq_node.is_root_node(i_queue_name);
    ex      record;
begin
    select a.execute_sql, a.execute_attrs into ex
      from londiste.applied_execute a
     where a.execute_file = i_file_name;
    if not found then
        ret_code := 404;
        ret_note := 'execute_file called without execute_start';
        return;
    end if;
    if is_root then
        perform pgq.insert_event(i_queue_name, 'EXECUTE', ex.execute_sql, i_file_name,
                                 ex.execute_attrs, null, null);
    end if;
    ret_code := 200;
    ret_note := 'Execute finished: ' || i_file_name;
end;
$$;
