-- londiste.root_check_seqs(i_queue_name text, i_buffer int8, out ret_code int4, out ret_note text)
-- londiste.root_check_seqs(i_queue_name text, out ret_code int4, out ret_note text)
--
-- On the root, publishes a value ahead of each local sequence of the set: when a sequence has
-- come within i_buffer of the last published value, current + 3 * i_buffer is published in a
-- 'londiste.update-seq' event (data = value, extra1 = sequence) and stored as last_value.
-- Nodes set their sequences there, so after a switchover they never hand out a used value.
-- i_buffer below 10 or NULL means 10000; the one-argument form uses 10000.
-- Returns 100 'Sequences updated'; 402 'Not a root node'; 404 'Queue not found: <queue>'.
-- Tables: pgq_node.node_info (row lock), londiste.seq_info (update); pgq events (insert); the
-- sequences (read).
create or replace function londiste.root_check_seqs(
    in i_queue_name text,
    in i_buffer int8,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
as $$
declare
    buf     int8 := case when i_buffer is null or i_buffer < 10 then 10000 else i_buffer end;
    ntype   text;
    seq     record;
    cur     int8;
    pub     int8;
begin
    select n.node_type into ntype
      from pgq_node.node_info n
     where n.queue_name = i_queue_name
       for update;
    if not found then
        ret_code := 404;
        ret_note := 'Queue not found: ' || i_queue_name;
        return;
    end if;
    if ntype <> 'root' then
        ret_code := 402;
        ret_note := 'Not a root node';
        return;
    end if;
    for seq in
        select s.seq_name, s.last_value
          from londiste.seq_info s
         where s.queue_name = i_queue_name and s.local
         order by s.nr
    loop
        execute 'select last_value from ' || londiste.quote_fqname(seq.seq_name) into cur;
        if cur + buf >= seq.last_value then
            pub := cur + buf * 3;
            perform pgq.insert_event(i_queue_name, 'londiste.update-seq', pub::text,
                                     seq.seq_name, null, null, null);
            update londiste.seq_info s
               set last_value = pub
             where s.queue_name = i_queue_name and s.seq_name = seq.seq_name;
        end if;
    end loop;
    ret_code := 100;
    ret_note := 'Sequences updated';
end;
$$;

create or replace function londiste.root_check_seqs(
    in i_queue_name text,
    out ret_code int4,
    out ret_note text)
returns record
language sql
as $$
    select f.ret_code, f.ret_note from londiste.root_check_seqs(i_queue_name, 10000) f;
$$;
