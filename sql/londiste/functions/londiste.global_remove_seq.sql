-- londiste.global_remove_seq(i_queue_name text, i_seq_name text,
--     out ret_code int4, out ret_note text)
--
-- Takes a sequence out of the queue's set; on the root a 'londiste.remove-seq' event tells the
-- nodes.
-- Returns 200 'Sequence removed: <fqname>'; 400 'Sequence not found: <fqname>'. Strict.
-- Errors: an unknown queue with a registered sequence cannot happen (foreign key); PN001 from
-- pgq_node.is_root_node otherwise.
-- Tables: londiste.seq_info (delete); pgq events on the root.
create or replace function londiste.global_remove_seq(
    in i_queue_name text,
    in i_seq_name text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
strict
as $$
declare
    fq text := londiste.make_fqname(i_seq_name);
begin
    delete from londiste.seq_info s where s.queue_name = i_queue_name and s.seq_name = fq;
    if not found then
        ret_code := 400;
        ret_note := 'Sequence not found: ' || fq;
        return;
    end if;
    if pgq_node.is_root_node(i_queue_name) then
        perform londiste.root_notify_change(i_queue_name, 'londiste.remove-seq', fq);
    end if;
    ret_code := 200;
    ret_note := 'Sequence removed: ' || fq;
end;
$$;
