-- londiste.global_update_seq(i_queue_name text, i_seq_name text, i_value int8,
--     out ret_code int4, out ret_note text)
--
-- On a branch or leaf, records a value the root published for a sequence (registering the
-- sequence in the set when new) and, when the sequence is local, moves it there
-- (pgq.seq_setval never moves it back).
-- Returns 200 'Sequence updated'; 404 'Set not found: <queue>' when this database is no node
-- of the queue; 402 'Must not run on root node'.
-- Tables: pgq_node.node_info (read), londiste.seq_info (row lock, insert or update); the
-- sequence (setval).
create or replace function londiste.global_update_seq(
    in i_queue_name text,
    in i_seq_name text,
    in i_value int8,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
as $$
declare
    ntype   text;
    fq      text;
    is_local boolean;
begin
    select n.node_type into ntype from pgq_node.node_info n where n.queue_name = i_queue_name;
    if not found then
        ret_code := 404;
        ret_note := 'Set not found: ' || i_queue_name;
        return;
    end if;
    if ntype = 'root' then
        ret_code := 402;
        ret_note := 'Must not run on root node';
        return;
    end if;
    fq := londiste.make_fqname(i_seq_name);
    select s.local into is_local
      from londiste.seq_info s
     where s.queue_name = i_queue_name and s.seq_name = fq
       for update;
    if not found then
        insert into londiste.seq_info (queue_name, seq_name, last_value)
        values (i_queue_name, fq, i_value);
    else
        update londiste.seq_info s
           set last_value = i_value
         where s.queue_name = i_queue_name and s.seq_name = fq;
        if is_local then
            perform pgq.seq_setval(fq, i_value);
        end if;
    end if;
    ret_code := 200;
    ret_note := 'Sequence updated';
end;
$$;
