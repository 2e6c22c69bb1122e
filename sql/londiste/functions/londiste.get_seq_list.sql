-- londiste.get_seq_list(i_queue_name text, out seq_name text, out last_value int8,
--     out local boolean) returns setof record
--
-- The sequences of the queue's set on this node, in registration order: name, the last value
-- the root published, and whether this node keeps its own sequence in step. Strict.
-- Tables: londiste.seq_info (read).
create or replace function londiste.get_seq_list(
    in i_queue_name text,
    out seq_name text,
    out last_value int8,
    out local boolean)
returns setof record
language sql
strict
as $$
    select s.seq_name, s.last_value, s.local
      from londiste.seq_info s
     where s.queue_name = i_queue_name
     order by s.nr, s.seq_name;
$$;
