-- londiste.local_remove_seq(i_queue_name text, i_seq_name text,
--     out ret_code int4, out ret_note text)
--
-- Stops keeping a sequence in step on this node. On the root that takes it out of the set
-- (londiste.global_remove_seq, which announces it); elsewhere it stays in the set, not local.
-- Returns 200 'Sequence removed: <fqname>'; 404 'Sequence not found: <fqname>' on a non-root
-- node when it is not local; on the root, global_remove_seq's result. Strict.
-- Errors: an unknown queue raises PN001 (pgq_node.is_root_node).
-- Tables: londiste.seq_info (update, or delete on the root).
create or replace function londiste.local_remove_seq(
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
    if pgq_node.is_root_node(i_queue_name) then
        select g.ret_code, g.ret_note into ret_code, ret_note
          from londiste.global_remove_seq(i_queue_name, fq) g;
        return;
    end if;
    update londiste.seq_info s
       set local = false
     where s.queue_name = i_queue_name and s.seq_name = fq and s.local;
    if not found then
        ret_code := 404;
        ret_note := 'Sequence not found: ' || fq;
        return;
    end if;
    ret_code := 200;
    ret_note := 'Sequence removed: ' || fq;
end;
$$;
