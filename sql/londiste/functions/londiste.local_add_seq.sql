-- londiste.local_add_seq(i_queue_name text, i_seq_name text,
--     out ret_code int4, out ret_note text)
--
-- Registers a sequence on this node. On the root it joins the set as local and its value is
-- published at once (londiste.root_check_seqs); elsewhere it must be in the set already and
-- is moved to the last published value.
-- Returns 200 'Sequence added: <fqname>'; 201 'Sequence already added: <fqname>' when it is
-- local already; 400 'Sequence not found: <fqname>' when no such sequence exists in this
-- database; 404 'Unknown sequence: <fqname>' on a non-root node when the set lacks it.
-- Errors: an unknown queue raises PN001 (pgq_node.is_root_node).
-- Tables: londiste.seq_info (row lock, insert or update); pgq events on the root; the
-- sequence (setval) elsewhere.
create or replace function londiste.local_add_seq(
    in i_queue_name text,
    in i_seq_name text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
as $$
declare
    fq      text := londiste.make_fqname(i_seq_name);
    seq     record;
    known   boolean;
begin
    if londiste.find_seq_oid(fq) is null then
        ret_code := 400;
        ret_note := 'Sequence not found: ' || fq;
        return;
    end if;

    select s.local, s.last_value into seq
      from londiste.seq_info s
     where s.queue_name = i_queue_name and s.seq_name = fq
       for update;
    known := found;
    if known and seq.local then
        ret_code := 201;
        ret_note := 'Sequence already added: ' || fq;
        return;
    end if;

    if pgq_node.is_root_node(i_queue_name) then
        if known then
            update londiste.seq_info s set local = true
             where s.queue_name = i_queue_name and s.seq_name = fq;
        else
            insert into londiste.seq_info (queue_name, seq_name, local, last_value)
            values (i_queue_name, fq, true, 0);
        end if;
        perform londiste.root_check_seqs(i_queue_name);
    else
        if not known then
            ret_code := 404;
            ret_note := 'Unknown sequence: ' || fq;
            return;
        end if;
        update londiste.seq_info s set local = true
         where s.queue_name = i_queue_name and s.seq_name = fq;
        perform pgq.seq_setval(fq, seq.last_value);
    end if;
    ret_code := 200;
    ret_note := 'Sequence added: ' || fq;
end;
$$;
